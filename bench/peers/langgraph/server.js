// chain10 on LangGraph.js behind a plain Node `http` server, traced to
// Langfuse: the peer that bench/peers/run_peer_bench.sh loads side by side
// with `weft serve`.
//
//   LANGFUSE_BASE_URL=http://127.0.0.1:4318 LANGFUSE_PUBLIC_KEY=pk LANGFUSE_SECRET_KEY=sk \
//     node server.js --listen 127.0.0.1:8091      (or PORT=8091 node server.js)
//
// The same routes and bodies as `weft serve` for this one flow:
//   GET  /v1/flows/chain10       -> {"name","inputs":[...],"outputs":[...],"nodes":10}
//   POST /v1/flows/chain10/runs  {"inputs":{"value":...},"session_id","user_id"}
//                                -> 200 {"langgraph_run_id","trace_id","outputs","duration_ms"}
//                                   and a `traceparent` response header
//
// Tracing is set up the way Langfuse documents it for LangChain/LangGraph
// with its OpenTelemetry-based JS SDK: a LangfuseSpanProcessor on a
// NodeTracerProvider (spans go out as OTLP/HTTP JSON to
// {LANGFUSE_BASE_URL}/api/public/otel/v1/traces) and a
// @langfuse/langchain CallbackHandler per run. Nothing here knows about
// the benchmark: the one span it starts itself is the request's, as
// Langfuse's guides do; none is fixed up after the fact.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

import {
  context,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  propagation,
  ROOT_CONTEXT,
} from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { LangfuseSpanProcessor } from '@langfuse/otel';
import { CallbackHandler } from '@langfuse/langchain';
import { propagateAttributes, startActiveObservation } from '@langfuse/tracing';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';

// --- tracing -------------------------------------------------------------

// OTEL_LOG_LEVEL as in @opentelemetry/sdk-node: OpenTelemetry's own warnings
// (such as "Dropped N spans because maxQueueSize reached") go to stderr.
const logLevel = DiagLogLevel[String(process.env.OTEL_LOG_LEVEL ?? '').toUpperCase()];
if (logLevel !== undefined) diag.setLogger(new DiagConsoleLogger(), logLevel);

// Keys, base URL, flushAt / flushInterval come from the LANGFUSE_* env
// variables, as in Langfuse's own setup guide; the batch sizes are the SDK's
// defaults.
const langfuseProcessor = new LangfuseSpanProcessor();
const provider = new NodeTracerProvider({ spanProcessors: [langfuseProcessor] });
// register(): global tracer provider, AsyncLocalStorage context manager and
// the W3C propagators (traceparent + baggage; Langfuse's SDK uses baggage).
provider.register({
  propagator: new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  }),
});

// --- the flow: examples/chain10.yaml -------------------------------------

const NODES = 10;
const State = Annotation.Root({ value: Annotation() });

function buildChain10() {
  const g = new StateGraph(State);
  for (let i = 1; i <= NODES; i++) g.addNode(`n${i}`, (s) => ({ value: s.value }));
  g.addEdge(START, 'n1');
  for (let i = 1; i < NODES; i++) g.addEdge(`n${i}`, `n${i + 1}`);
  g.addEdge(`n${NODES}`, END);
  return g.compile({ name: 'chain10' });
}

const graph = buildChain10();

const FLOW = {
  name: 'chain10',
  description: 'ten passthrough nodes in a line (LangGraph.js peer)',
  inputs: [{ name: 'value', type: 'any', required: false, default: 'x' }],
  outputs: [{ name: 'value', from: 'n10.value' }],
  nodes: NODES,
};

// --- HTTP ----------------------------------------------------------------

const MAX_BODY = 1 << 20;

function send(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendError(res, status, code, message) {
  send(res, status, { error: { code, message } });
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(Object.assign(new Error('invalid JSON: ' + e.message), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

async function runChain10(req, res) {
  let body;
  try {
    body = await readJson(req);
  } catch (e) {
    return sendError(res, e.status ?? 400, 'bad_request', e.message);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return sendError(res, 400, 'bad_request', 'expected a JSON object');
  const inputs = body.inputs ?? {};
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs))
    return sendError(res, 400, 'bad_request', 'inputs: expected an object');
  const sessionId = typeof body.session_id === 'string' ? body.session_id : undefined;
  const userId = typeof body.user_id === 'string' ? body.user_id : undefined;
  const value = 'value' in inputs ? inputs.value : 'x';

  // W3C propagation: the caller's span becomes the parent of this run.
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const runId = randomUUID();
  const started = process.hrtime.bigint();
  let out, spanContext;
  try {
    // As Langfuse documents for a request handler: one enclosing observation
    // (so the trace id and the span to name in the response's traceparent
    // are known), with sessionId / userId propagated to every span started
    // inside it (propagateAttributes), and the LangChain CallbackHandler,
    // which is given them too, for the graph's own spans.
    out = await context.with(parent, () =>
      startActiveObservation(
        'POST /v1/flows/chain10/runs',
        (request) => {
          spanContext = request.otelSpan.spanContext();
          return propagateAttributes({ sessionId, userId }, () =>
            graph.invoke(
              { value },
              {
                callbacks: [new CallbackHandler({ sessionId, userId })],
                runId,
                runName: 'chain10',
              },
            ),
          );
        },
        { asType: 'span' },
      ),
    );
  } catch (e) {
    return sendError(res, 500, 'run_failed', String(e?.message ?? e));
  }
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  const { traceId, spanId, traceFlags } = spanContext;
  // No `run_id` key: `weft load` would then require a weft.run.id attribute
  // on every span, a name only weft writes (see bench/peers/README.md).
  send(
    res,
    200,
    { langgraph_run_id: runId, trace_id: traceId, outputs: { value: out.value }, duration_ms: durationMs },
    { traceparent: `00-${traceId}-${spanId}-0${traceFlags & 1}` },
  );
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/v1/flows/chain10/runs') {
    if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'use POST');
    runChain10(req, res).catch((e) => sendError(res, 500, 'internal', String(e?.message ?? e)));
    return;
  }
  if (path === '/v1/flows/chain10') {
    if (req.method !== 'GET') return sendError(res, 405, 'method_not_allowed', 'use GET');
    return send(res, 200, FLOW);
  }
  if (path === '/v1/flows' && req.method === 'GET') return send(res, 200, { flows: [FLOW] });
  if (path === '/healthz') return send(res, 200, { ok: true });
  req.resume();
  return sendError(res, 404, 'not_found', `no route ${req.method} ${path}`);
});
server.keepAliveTimeout = 30000;
server.maxRequestsPerSocket = 0;

function listenAddress() {
  const i = process.argv.indexOf('--listen');
  const spec = i > 0 ? process.argv[i + 1] : process.env.LISTEN ?? `127.0.0.1:${process.env.PORT ?? 8091}`;
  const m = /^(.*):(\d+)$/.exec(spec ?? '');
  if (!m) {
    process.stderr.write(`server.js: --listen ${spec}: expected HOST:PORT\n`);
    process.exit(2);
  }
  return { host: m[1], port: Number(m[2]) };
}

// On SIGTERM/SIGINT: stop accepting, let LangChain's queued callbacks run,
// then flush the span processor, so that no finished span is left behind.
let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close();
  try {
    const { awaitAllCallbacks } = await import('@langchain/core/callbacks/promises');
    await awaitAllCallbacks();
    await provider.forceFlush();
    await provider.shutdown();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

const { host, port } = listenAddress();
server.listen(port, host, () => {
  const a = server.address();
  process.stderr.write(`langgraph peer: listening on ${a.address}:${a.port} (chain10, ${NODES} nodes)\n`);
});
