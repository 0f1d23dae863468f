#!/usr/bin/env bash
# What one translation unit of weft costs to compile under each set of
# flags CI and developers use, side by side, to choose the CI build and the
# sanitizer build within CI's time budget:
#   own / own+PCH    the tree's own flags (RelWithDebInfo: -O2 -g), without
#                    and with its precompiled headers (cmake/precompiled_headers.cmake)
#   O2 -g1 / O2      line tables only / no debug info
#   O3               Release (CI's main build)
#   O0 -g1 asan+ub   the sanitizer build (make sanitize)
#   O1 -g1 asan+ub   the same at -O1, for comparison
# Wall seconds of one compile each; run it on a quiet machine.
#
#   bench/build_cost.sh BUILD_DIR [FILE...]
#
# BUILD_DIR: a configured build tree (for compile_commands.json and, for
# the PCH column, its precompiled headers, built by any earlier build).
# FILEs are source paths relative to the tree (default: four typical ones).
set -euo pipefail
build="$(cd "$1" && pwd)"
shift
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(actors/engine.cpp serve/service.cpp flows/parser.cpp tests/serve_http_test.cpp)

# The compile command of FILE from the database, without -c/-o, and without
# its precompiled header unless asked for.
command_of() {
  python3 - "$build/compile_commands.json" "$1" "$2" <<'PY'
import json, shlex, sys
db, want, keep_pch = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3] == "pch"
for e in db:
    if not e["file"].endswith("/" + want):
        continue
    out, skip = [], 0
    args = shlex.split(e["command"])
    for i, a in enumerate(args):
        if skip:
            skip -= 1
            continue
        if a in ("-o", "-c") or a == e["file"]:
            skip = 1 if a == "-o" else 0
            continue
        if not keep_pch and a == "-include" and "cmake_pch" in args[i + 1]:
            skip = 1
            continue
        if not keep_pch and a == "-Winvalid-pch":
            continue
        out.append(a)
    print(shlex.join(out), e["file"])
    break
PY
}

timed() {  # flags-substitution, command, file
  local s e
  s=$(date +%s%N)
  eval "$2 -c $3 -o /dev/null" 2>/dev/null || { printf '%8s' fail; return; }
  e=$(date +%s%N)
  printf '%8.1f' "$(echo "($e - $s) / 1000000000" | bc -l)"
}

printf '%-28s %8s %8s %8s %8s %8s %8s %8s\n' file own own+PCH "O2 -g1" "O2" "O3" "O0 asan" "O1 asan"
for f in "${files[@]}"; do
  read -r plain file <<<"$(command_of "$f" plain | sed 's/ \([^ ]*\)$/|\1/' | tr '|' ' ')"
  read -r withpch _ <<<"$(command_of "$f" pch | sed 's/ \([^ ]*\)$/|\1/' | tr '|' ' ')"
  # The database's own optimisation flags are replaced by each column's.
  base=$(sed -E 's/ -O[0-3s]( -g[0-3]?)?( |$)/ /; s/ -g( |$)/ /' <<<"$plain")
  printf '%-28s' "$f"
  timed x "$plain" "$file"
  if [ "$withpch" != "$plain" ]; then timed x "$withpch" "$file"; else printf '%8s' "-"; fi
  timed x "$base -O2 -g1" "$file"
  timed x "$base -O2" "$file"
  timed x "$base -O3" "$file"
  timed x "$base -O0 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer" "$file"
  timed x "$base -O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer" "$file"
  echo
done
