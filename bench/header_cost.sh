#!/usr/bin/env bash
# What including weft's public headers costs a translation unit: compile
# time (g++ -c -O0, median of 5) and preprocessed lines, side by side with
# the JSON library and the standard headers underneath.
#
#   bench/header_cost.sh [BEFORE_TREE]
#
# BEFORE_TREE: a source tree of an earlier weft (git archive <rev> | tar -x
# -C DIR) whose weft/engine.hpp is measured first, for a before/after.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

measure() {  # label, include flags, header
  printf '#include <%s>\nint main() {}\n' "$3" > "$tmp/tu.cpp"
  local times=() s e
  for _ in 1 2 3 4 5; do
    s=$(date +%s%N)
    g++ -std=c++20 $2 -c -o /dev/null "$tmp/tu.cpp"
    e=$(date +%s%N)
    times+=($(( (e - s) / 1000000 )))
  done
  local med lines
  med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  lines=$(g++ -std=c++20 $2 -E "$tmp/tu.cpp" | wc -l)
  printf '%-8s %-22s %6d ms  %7d lines\n' "$1" "$3" "$med" "$lines"
}

if [ $# -ge 1 ]; then measure before "-I$1 -I$1/include" weft/engine.hpp; fi
measure weft "-I$src/include" weft/engine.hpp
measure weft "-I$src/include" weft/flow.hpp
measure weft "-I$src/include" weft/component.hpp
measure weft "-I$src/include" weft/weft.hpp
measure deps "" nlohmann/json.hpp
measure deps "" nlohmann/json_fwd.hpp
measure deps "" future
