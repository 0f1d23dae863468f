#!/usr/bin/env node
// A stand-in Langfuse/OTLP backend for the peer benchmark: it appends every
// trace export it receives to a file, one request body per line, so that
// `weft load --trace-file FILE` can audit the peer's spans exactly as it
// audits weft's own file sink.
//
//   node otlp_file_collector.js --listen 127.0.0.1:4318 --out peer-traces.jsonl
//
// Routes (POST):
//   /v1/traces, /api/public/otel/v1/traces   OTLP/HTTP, JSON bodies only
//   /api/public/ingestion                    Langfuse's legacy ingestion API
//                                            (kept apart, in OUT.ingestion)
// Anything else: 404. Every accepted request gets 200 `{}`.
//
// What the OTLP route does to a body, and nothing more:
//   - gunzips it when Content-Encoding is gzip;
//   - parses the JSON and re-serialises it on one line (a pretty-printed
//     body would otherwise span lines), with one encoding change:
//     traceId / spanId / parentSpanId that are base64 (the protobuf-JSON
//     mapping) are rewritten as lowercase hex. Hex ids pass unchanged.
//     No span, attribute or id value is added, dropped or altered.
// A protobuf body (application/x-protobuf) is refused with 415 and counted:
// configure the exporter for JSON instead.
//
// It prints one JSON line of counters to stderr on SIGINT/SIGTERM and on
// GET /stats.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const zlib = require('node:zlib');

function parseArgs(argv) {
  const opts = { listen: '127.0.0.1:4318', out: 'peer-traces.jsonl' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--listen') opts.listen = argv[++i];
    else if (a === '--out') opts.out = argv[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: otlp_file_collector.js [--listen HOST:PORT] [--out FILE]\n');
      process.exit(0);
    } else {
      process.stderr.write(`otlp_file_collector: unknown argument ${a}\n`);
      process.exit(2);
    }
  }
  const m = /^(.*):(\d+)$/.exec(opts.listen);
  if (!m) {
    process.stderr.write(`otlp_file_collector: --listen ${opts.listen}: expected HOST:PORT\n`);
    process.exit(2);
  }
  opts.host = m[1];
  opts.port = Number(m[2]);
  return opts;
}

const HEX = /^[0-9a-fA-F]*$/;

// base64 of `bytes` bytes -> hex, or null when `s` is not that.
function base64ToHex(s, bytes) {
  if (typeof s !== 'string' || s.length !== Math.ceil(bytes / 3) * 4) return null;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) return null;
  const buf = Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return buf.length === bytes ? buf.toString('hex') : null;
}

// An id as the JS exporter wrote it -> hex. Hex of the right length is the
// OTLP/JSON form and passes as it is; base64 of the right byte count is
// decoded. Anything else passes unchanged, for the reader to reject.
function idToHex(v, bytes, stats) {
  if (typeof v !== 'string' || v === '') return v;
  if (v.length === bytes * 2 && HEX.test(v)) return v;
  const hex = base64ToHex(v, bytes);
  if (hex === null) return v;
  stats.ids_rewritten++;
  return hex;
}

function normaliseIds(req, stats) {
  for (const rs of req.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        stats.spans++;
        if ('traceId' in span) span.traceId = idToHex(span.traceId, 16, stats);
        if ('spanId' in span) span.spanId = idToHex(span.spanId, 8, stats);
        if ('parentSpanId' in span) span.parentSpanId = idToHex(span.parentSpanId, 8, stats);
        for (const link of span.links ?? []) {
          if ('traceId' in link) link.traceId = idToHex(link.traceId, 16, stats);
          if ('spanId' in link) link.spanId = idToHex(link.spanId, 8, stats);
        }
      }
    }
  }
  return req;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      try {
        const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
        if (enc === 'gzip') body = zlib.gunzipSync(body);
        else if (enc === 'deflate') body = zlib.inflateSync(body);
        else if (enc && enc !== 'identity') return reject(new Error(`content-encoding ${enc}`));
      } catch (e) {
        return reject(e);
      }
      resolve(body);
    });
    req.on('error', reject);
  });
}

function main() {
  const opts = parseArgs(process.argv);
  const out = fs.openSync(opts.out, 'a');
  let ingestion = null; // opened on the first legacy request
  const stats = {
    requests: 0, otlp_requests: 0, ingestion_requests: 0, spans: 0, ids_rewritten: 0,
    rejected_protobuf: 0, rejected_bad_json: 0, not_found: 0,
  };

  const reply = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/stats') return reply(res, 200, JSON.stringify(stats));
    const isOtlp = path === '/v1/traces' || path.endsWith('/api/public/otel/v1/traces');
    const isIngestion = path.endsWith('/api/public/ingestion');
    if (req.method !== 'POST' || (!isOtlp && !isIngestion)) {
      stats.not_found++;
      req.resume();
      return reply(res, 404, '{"error":"not found"}');
    }
    stats.requests++;
    let body;
    try {
      body = await readBody(req);
    } catch (e) {
      return reply(res, 400, JSON.stringify({ error: String(e.message ?? e) }));
    }
    const type = String(req.headers['content-type'] ?? '').toLowerCase();
    if (type.includes('protobuf')) {
      stats.rejected_protobuf++;
      return reply(res, 415, '{"error":"protobuf bodies are not accepted: export OTLP as JSON"}');
    }
    let parsed;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (e) {
      stats.rejected_bad_json++;
      return reply(res, 400, JSON.stringify({ error: 'invalid JSON: ' + e.message }));
    }
    if (isOtlp) {
      stats.otlp_requests++;
      fs.writeSync(out, JSON.stringify(normaliseIds(parsed, stats)) + '\n');
      return reply(res, 200, '{}');
    }
    // Legacy ingestion: kept for inspection, not auditable as OTLP. Langfuse
    // answers 207 with per-event results; every event is taken here.
    stats.ingestion_requests++;
    if (ingestion === null) ingestion = fs.openSync(opts.out + '.ingestion', 'a');
    fs.writeSync(ingestion, JSON.stringify(parsed) + '\n');
    const successes = (parsed.batch ?? []).map((e) => ({ id: e.id, status: 201 }));
    return reply(res, 207, JSON.stringify({ successes, errors: [] }));
  });
  server.keepAliveTimeout = 30000;

  const stop = () => {
    process.stderr.write(JSON.stringify({ collector: stats }) + '\n');
    server.close();
    fs.closeSync(out);
    if (ingestion !== null) fs.closeSync(ingestion);
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.listen(opts.port, opts.host, () => {
    const a = server.address();
    process.stderr.write(`otlp_file_collector: listening on ${a.address}:${a.port}, writing ${opts.out}\n`);
  });
}

main();
