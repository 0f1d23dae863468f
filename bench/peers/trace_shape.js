#!/usr/bin/env node
// Describes the traces in an OTLP/JSON lines file, to explain what
// `weft load --trace-file` found there. It knows nothing of the requests
// that were sent (weft load does the audit proper); it only counts shapes:
//
//   node trace_shape.js FILE [--json]
//
// per file: lines, spans, traces; spans per trace (histogram); traces whose
// spans do not form one tree (0 or 2+ spans whose parent is not in the
// trace); spans without session.id / user.id, by span name; span names.
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');

function attrValue(v) {
  if (!v || typeof v !== 'object') return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return String(v.intValue);
  if ('boolValue' in v) return String(v.boolValue);
  if ('doubleValue' in v) return String(v.doubleValue);
  return JSON.stringify(v);
}

async function main() {
  const file = process.argv[2];
  const asJson = process.argv.includes('--json');
  if (!file) {
    process.stderr.write('usage: trace_shape.js FILE [--json]\n');
    process.exit(2);
  }
  const traces = new Map(); // traceId -> [{id, parent, name, session, user}]
  let lines = 0, spans = 0, badLines = 0;
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    lines++;
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      badLines++;
      continue;
    }
    for (const rs of req.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          spans++;
          const attrs = {};
          for (const a of s.attributes ?? []) attrs[a.key] = attrValue(a.value);
          let list = traces.get(s.traceId);
          if (!list) traces.set(s.traceId, (list = []));
          list.push({
            id: s.spanId,
            parent: s.parentSpanId || '',
            name: s.name,
            session: attrs['session.id'],
            user: attrs['user.id'],
          });
        }
  }

  const perTrace = {};
  const rootsHist = {};
  const noSession = {}, noUser = {};
  const names = {};
  let notOneTree = 0, duplicateIds = 0, spansWithoutSession = 0, spansWithoutUser = 0;
  for (const list of traces.values()) {
    perTrace[list.length] = (perTrace[list.length] ?? 0) + 1;
    const ids = new Set();
    for (const s of list) {
      if (ids.has(s.id)) duplicateIds++;
      ids.add(s.id);
    }
    // A "root" here: a span whose parent is not a span of this trace (the
    // caller's remote span, or none).
    const roots = list.filter((s) => !ids.has(s.parent)).length;
    rootsHist[roots] = (rootsHist[roots] ?? 0) + 1;
    if (roots !== 1) notOneTree++;
    for (const s of list) {
      names[s.name] = (names[s.name] ?? 0) + 1;
      if (!s.session) {
        spansWithoutSession++;
        noSession[s.name] = (noSession[s.name] ?? 0) + 1;
      }
      if (!s.user) {
        spansWithoutUser++;
        noUser[s.name] = (noUser[s.name] ?? 0) + 1;
      }
    }
  }
  const report = {
    file, lines, bad_lines: badLines, spans, traces: traces.size,
    spans_per_trace: perTrace,
    roots_per_trace: rootsHist,
    traces_not_one_tree: notOneTree,
    duplicate_span_ids: duplicateIds,
    spans_without_session_id: spansWithoutSession,
    spans_without_user_id: spansWithoutUser,
    without_session_id_by_name: noSession,
    without_user_id_by_name: noUser,
    span_names: names,
  };
  if (asJson) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const kv = (o) => Object.entries(o).map(([k, v]) => `${k}:${v}`).join(' ') || '-';
  process.stdout.write(
    `${file}: ${lines} lines (${badLines} bad), ${spans} spans, ${traces.size} traces\n` +
      `  spans per trace   ${kv(perTrace)}\n` +
      `  roots per trace   ${kv(rootsHist)}   (traces not one tree: ${notOneTree})\n` +
      `  duplicate span ids ${duplicateIds}\n` +
      `  no session.id     ${spansWithoutSession} spans  ${kv(noSession)}\n` +
      `  no user.id        ${spansWithoutUser} spans  ${kv(noUser)}\n` +
      `  span names        ${kv(names)}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n');
  process.exit(1);
});
