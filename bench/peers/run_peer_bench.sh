#!/usr/bin/env bash
# chain10 served by `weft serve` and by a LangGraph.js + Langfuse peer
# (bench/peers/langgraph), loaded side by side with `weft load --url`, in
# alternating rounds, each side's traces audited by `weft load --trace-file`.
#
#   (cd bench/peers/langgraph && npm ci)      # once
#   bench/peers/run_peer_bench.sh
#
# Sides:
#   weft         weft serve, file sink (OTLP/JSON lines written by weft)
#   weft-otlp    weft serve exporting to "Langfuse" (LANGFUSE_* env, OTLP/HTTP
#                JSON) = otlp_file_collector.js, which writes the file
#   peer         server.js (LangGraph.js, Langfuse's OTel SDK) exporting the
#                same way to its own otlp_file_collector.js
#
# Environment (defaults): WEFT (build/weft), RUNS (2000) per round and side,
# ROUNDS (3), CONCURRENCY (64), WARMUP (200 runs per side, not counted),
# PORT_BASE (18180: uses 5 ports from there), AUDIT_WAIT_MS (12000: how long
# weft load waits for a side's trace file to hold every span; the Langfuse
# SDK batches spans for up to 5 s), OUT (a new temporary folder; kept),
# PEER_ENV (extra VAR=VALUE words for the peer only, e.g.
# "OTEL_BSP_MAX_QUEUE_SIZE=100000"; empty: the SDKs' defaults).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
WEFT="${WEFT:-$repo/build/weft}"
RUNS="${RUNS:-2000}"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-64}"
WARMUP="${WARMUP:-200}"
PORT_BASE="${PORT_BASE:-18180}"
AUDIT_WAIT_MS="${AUDIT_WAIT_MS:-12000}"
OUT="${OUT:-$(mktemp -d /tmp/weft-peer-bench.XXXXXX)}"
PEER_ENV="${PEER_ENV:-}"
SESSION=bench-session
USER_ID=bench-user

die() { echo "run_peer_bench: $*" >&2; exit 2; }
[[ -x "$WEFT" ]] || die "no weft binary at $WEFT (build it, or set WEFT=path)"
command -v node >/dev/null || die "node is not installed"
[[ -d "$here/langgraph/node_modules/@langchain/langgraph" ]] ||
  die "the peer's packages are missing: run (cd $here/langgraph && npm ci)"

weft_port=$PORT_BASE
weft_otlp_port=$((PORT_BASE + 1))
peer_port=$((PORT_BASE + 2))
peer_coll_port=$((PORT_BASE + 3))
weft_coll_port=$((PORT_BASE + 4))
for p in $weft_port $weft_otlp_port $peer_port $peer_coll_port $weft_coll_port; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is in use (set PORT_BASE)"; fi
done

mkdir -p "$OUT/flows"
cp "$repo/examples/chain10.yaml" "$OUT/flows/"
: >"$OUT/weft-traces.jsonl"
: >"$OUT/weft-otlp-traces.jsonl"
: >"$OUT/peer-traces.jsonl"

# Only what this script started is stopped, by pid: TERM (each server
# drains and flushes its spans on TERM), then KILL after 15 s.
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # URL: until it answers, 20 s at most
  for _ in $(seq 200); do
    if node -e "require('http').get(process.argv[1], r => process.exit(r.statusCode < 500 ? 0 : 1)).on('error', () => process.exit(1))" "$1"; then
      return 0
    fi
    sleep 0.1
  done
  die "nothing answers at $1 (see the logs in $OUT)"
}

# --- start everything --------------------------------------------------------
# Every server gets the environment it needs and nothing else of ours: the
# weft file side must not see LANGFUSE_*, or it would export twice.
env -u LANGFUSE_PUBLIC_KEY -u LANGFUSE_SECRET_KEY -u LANGFUSE_HOST -u LANGFUSE_BASE_URL \
  -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT -u WEFT_TRACE_FILE \
  "$WEFT" serve --flows "$OUT/flows" --listen "127.0.0.1:$weft_port" \
  --trace-file "$OUT/weft-traces.jsonl" >"$OUT/weft-serve.log" 2>&1 &
pids+=($!)
weft_pid=$!

node "$here/otlp_file_collector.js" --listen "127.0.0.1:$weft_coll_port" \
  --out "$OUT/weft-otlp-traces.jsonl" >"$OUT/weft-collector.log" 2>&1 &
pids+=($!)
env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT -u WEFT_TRACE_FILE \
  LANGFUSE_PUBLIC_KEY=pk-lf-bench LANGFUSE_SECRET_KEY=sk-lf-bench \
  LANGFUSE_HOST="http://127.0.0.1:$weft_coll_port" \
  "$WEFT" serve --flows "$OUT/flows" --listen "127.0.0.1:$weft_otlp_port" \
  >"$OUT/weft-otlp-serve.log" 2>&1 &
pids+=($!)
weft_otlp_pid=$!

node "$here/otlp_file_collector.js" --listen "127.0.0.1:$peer_coll_port" \
  --out "$OUT/peer-traces.jsonl" >"$OUT/peer-collector.log" 2>&1 &
pids+=($!)
# The peer gets Langfuse's documented settings and OTel's log level, so that
# the SDK's own warnings (dropped spans, failed exports) reach its log.
# shellcheck disable=SC2086 # PEER_ENV is a list of words on purpose
env -u LANGFUSE_HOST -u LANGFUSE_FLUSH_AT -u LANGFUSE_FLUSH_INTERVAL -u LANGCHAIN_CALLBACKS_BACKGROUND \
  -u OTEL_BSP_MAX_QUEUE_SIZE -u OTEL_BSP_MAX_EXPORT_BATCH_SIZE -u OTEL_BSP_SCHEDULE_DELAY \
  -u OTEL_BSP_EXPORT_TIMEOUT -u LANGFUSE_TIMEOUT \
  LANGFUSE_PUBLIC_KEY=pk-lf-bench LANGFUSE_SECRET_KEY=sk-lf-bench \
  LANGFUSE_BASE_URL="http://127.0.0.1:$peer_coll_port" OTEL_LOG_LEVEL=warn $PEER_ENV \
  node "$here/langgraph/server.js" --listen "127.0.0.1:$peer_port" >"$OUT/peer-server.log" 2>&1 &
pids+=($!)
peer_pid=$!

wait_http "http://127.0.0.1:$weft_port/v1/flows/chain10"
wait_http "http://127.0.0.1:$weft_otlp_port/v1/flows/chain10"
wait_http "http://127.0.0.1:$weft_coll_port/stats"
wait_http "http://127.0.0.1:$peer_coll_port/stats"
wait_http "http://127.0.0.1:$peer_port/v1/flows/chain10"

url_of() {
  case $1 in
    weft) echo "http://127.0.0.1:$weft_port" ;;
    weft-otlp) echo "http://127.0.0.1:$weft_otlp_port" ;;
    peer) echo "http://127.0.0.1:$peer_port" ;;
  esac
}
file_of() { echo "$OUT/$1-traces.jsonl"; }

echo "weft peer bench: chain10, $ROUNDS rounds x $RUNS runs per side, concurrency $CONCURRENCY"
echo "  weft: $WEFT"
echo "  peer: $(cd "$here/langgraph" && node -e "const l=require('./package-lock.json').packages;for(const p of ['@langchain/langgraph','@langchain/core','@langfuse/otel','@langfuse/langchain','@opentelemetry/sdk-trace-node'])process.stdout.write(p+' '+l['node_modules/'+p].version+'  ')"), node $(node --version)"
[[ -z "$PEER_ENV" ]] || echo "  peer env: $PEER_ENV"
echo "  machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; output in $OUT"

# Warm-up (JIT, connection setup): not measured, not audited.
for side in weft weft-otlp peer; do
  "$WEFT" load --url "$(url_of "$side")" --flow chain10 --runs "$WARMUP" --concurrency "$CONCURRENCY" \
    --json --no-progress --session-id "$SESSION" --user-id "$USER_ID" >/dev/null 2>&1 || true
done

results="$OUT/results.jsonl"
: >"$results"
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then order="weft weft-otlp peer"; else order="peer weft-otlp weft"; fi
  for side in $order; do
    set +e
    "$WEFT" load --url "$(url_of "$side")" --flow chain10 --runs "$RUNS" --concurrency "$CONCURRENCY" \
      --json --no-progress --session-id "$SESSION" --user-id "$USER_ID" \
      --trace-file "$(file_of "$side")" --audit-wait-ms "$AUDIT_WAIT_MS" \
      >"$OUT/load-$side-$r.json" 2>"$OUT/load-$side-$r.err"
    rc=$?
    set -e
    [[ -s "$OUT/load-$side-$r.json" ]] || die "weft load against $side printed nothing (exit $rc): $(tail -3 "$OUT/load-$side-$r.err")"
    # shellcheck disable=SC2016 # the single quotes hold JavaScript
    node -e '
      const [side, round, rc, file] = process.argv.slice(1);
      const j = JSON.parse(require("fs").readFileSync(file, "utf8"));
      console.log(JSON.stringify({side, round: +round, rc: +rc, ...j}));
    ' "$side" "$r" "$rc" "$OUT/load-$side-$r.json" >>"$results"
    # shellcheck disable=SC2016 # the single quotes hold JavaScript
    node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const a = j.audit;
      console.log(`  round ${process.argv[2]} ${process.argv[3].padEnd(9)} ${j.runs_per_s.toFixed(1).padStart(8)} runs/s  p50 ${j.latency_ms.p50.toFixed(1)} ms  p99 ${j.latency_ms.p99.toFixed(1)} ms  ok ${j.ok}/${j.runs}  audit: ${a.traces} traces, ${a.spans} spans, ${a.problems} problems`);
    ' "$OUT/load-$side-$r.json" "$r" "$side"
  done
done

peak_rss() { awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "?"; }
rss_line="peak RSS: weft $(peak_rss $weft_pid), weft-otlp $(peak_rss $weft_otlp_pid), peer $(peak_rss $peer_pid)"

# Stop the servers (each flushes its spans on TERM) and the collectors, so
# that the trace files are final before they are described.
cleanup
for side in weft weft-otlp peer; do
  node "$here/trace_shape.js" "$(file_of "$side")" --json >"$OUT/shape-$side.json"
done

node - "$results" "$OUT" <<'EOF'
const fs = require('fs');
const [results, out] = process.argv.slice(2);
const rows = fs.readFileSync(results, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const sides = ['weft', 'weft-otlp', 'peer'];
const stat = {};
for (const side of sides) {
  const rs = rows.filter((r) => r.side === side);
  stat[side] = {
    rps: median(rs.map((r) => r.runs_per_s)),
    p50: median(rs.map((r) => r.latency_ms.p50)),
    p99: median(rs.map((r) => r.latency_ms.p99)),
    runs: rs.reduce((a, r) => a + r.runs, 0),
    ok: rs.reduce((a, r) => a + r.ok, 0),
    traces: rs.reduce((a, r) => a + r.audit.traces, 0),
    spans: rs.reduce((a, r) => a + r.audit.spans, 0),
    problems: rs.reduce((a, r) => a + r.audit.problems, 0),
    samples: rs.flatMap((r) => r.audit.problem_samples),
    shape: JSON.parse(fs.readFileSync(`${out}/shape-${side}.json`, 'utf8')),
  };
}
const f = (x, d = 1) => x.toFixed(d);
console.log('');
console.log('| side | runs/s (median) | p50 ms | p99 ms | ok / runs | audit: traces found / expected | spans | problems |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const side of sides) {
  const s = stat[side];
  console.log(`| ${side} | ${f(s.rps)} | ${f(s.p50)} | ${f(s.p99)} | ${s.ok} / ${s.runs} | ${s.traces} / ${s.ok} | ${s.spans} | ${s.problems} |`);
}
console.log('');
console.log(`ratio weft/peer (median runs/s):      ${f(stat.weft.rps / stat.peer.rps, 0)}x`);
console.log(`ratio weft-otlp/peer (median runs/s): ${f(stat['weft-otlp'].rps / stat.peer.rps, 0)}x`);
console.log(`ratio p50 latency peer/weft:          ${f(stat.peer.p50 / stat.weft.p50, 0)}x`);

// What the problems were: weft load prints at most 50 samples per round;
// these are grouped by kind, ids and names stripped.
const kind = (p) => p
  .replace(/[0-9a-f]{32}/g, 'T').replace(/[0-9a-f]{16}/g, 'S')
  .replace(/span '[^']*'/g, "span 'N'")
  .replace(/run \d+/, 'run R');
console.log('');
for (const side of sides) {
  const s = stat[side], sh = s.shape;
  console.log(`${side}: trace file ${sh.lines} lines, ${sh.spans} spans, ${sh.traces} traces; spans per trace ${JSON.stringify(sh.spans_per_trace)}; traces not one tree ${sh.traces_not_one_tree}; spans without session.id ${sh.spans_without_session_id}, without user.id ${sh.spans_without_user_id}`);
  if (s.problems) {
    const kinds = {};
    for (const p of s.samples) kinds[kind(p)] = (kinds[kind(p)] ?? 0) + 1;
    console.log(`  problem kinds among the ${s.samples.length} samples printed:`);
    for (const [k, n] of Object.entries(kinds).sort((a, b) => b[1] - a[1])) console.log(`    ${String(n).padStart(4)}  ${k}`);
  }
}
EOF

dropped=$(grep -o 'Dropped [0-9]* spans' "$OUT/peer-server.log" | awk '{s += $2} END {print s + 0}')
echo "peer: OpenTelemetry reported $dropped span(s) dropped (BatchSpanProcessor queue full) in $OUT/peer-server.log"
echo "$rss_line"
echo "collectors: weft-otlp $(tail -1 "$OUT/weft-collector.log"); peer $(tail -1 "$OUT/peer-collector.log")"
