'use strict';
// The bad-input catalogue's tools: raw gRPC calls that carry any bytes (invalid UTF-8, truncated
// messages, forged tokens) to a server unfiltered, and the catalogue table in
// docs/RELIABILITY.md that the answers are checked against (or written to, with
// KILN_UPDATE_CATALOGUE=1).
//
//   const client = rawClient(address);
//   const got = await rawCall(client, 'StartActivityExecution', encode('StartActivityExecution', {...}));
//   // got: {code: 'INVALID_ARGUMENT', message: '...', response: <decoded or null>}
//
// The table between `<!-- catalogue:NAME begin -->` and `<!-- catalogue:NAME end -->` has one row
// per case: | `case id` | RPC | input | kiln dev | Temporal |. A row's answer cells are
// "`CODE` message" as cell() writes them.
const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const proto = require('@temporalio/proto');

const ws = proto.temporal.api.workflowservice.v1;
const SERVICE = '/temporal.api.workflowservice.v1.WorkflowService/';
const RELIABILITY_MD = path.resolve(__dirname, '../../../docs/RELIABILITY.md');
const CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
const MAX_MESSAGE_CHARS = 160;
// 8 bytes that are not UTF-8 (a lone continuation byte, an overlong lead, a surrogate), swapped in
// for the 8-byte marker BAD_UTF8 after encoding, so the field's length prefix stays right.
const BAD_UTF8 = 'BADUTF8!';
const BAD_UTF8_BYTES = Buffer.from([0x61, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0xed, 0xa0]);

/** A gRPC channel without client-side size limits, so the server's limits are the ones tested. */
function rawClient(address) {
  return new grpc.Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1,
  });
}

/** The request message `method` takes, encoded from a protobufjs plain object (camelCase keys). */
function encode(method, object) {
  const type = ws[`${method}Request`];
  return Buffer.from(type.encode(type.fromObject(object)).finish());
}

/** `bytes` with every BAD_UTF8 marker replaced by bytes that are not valid UTF-8. */
function withBadUtf8(bytes) {
  const out = Buffer.from(bytes);
  const marker = Buffer.from(BAD_UTF8);
  for (let i = out.indexOf(marker); i >= 0; i = out.indexOf(marker, i + marker.length)) {
    BAD_UTF8_BYTES.copy(out, i);
  }
  return out;
}

/** Sends `bytes` as `method`'s request; resolves {code, message, response} (never rejects). */
function rawCall(client, method, bytes, { deadlineMs = 10000 } = {}) {
  return new Promise((resolve) => {
    client.makeUnaryRequest(SERVICE + method, (b) => b, (b) => b, bytes, new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs }, (err, response) => {
        if (err) return resolve({ code: CODES[err.code] || String(err.code), message: err.details || '', response: null });
        const type = ws[`${method}Response`];
        const decoded = type ? type.toObject(type.decode(response), { longs: String, bytes: String, defaults: false }) : null;
        return resolve({ code: 'OK', message: '', response: decoded });
      });
  });
}

/** "`CODE` message" for a table cell: ids that change every run masked, pipes escaped, capped. */
function cell({ code, message }, note) {
  let text = (message || '').replace(/\s+/g, ' ').trim()
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>')
    .replace(/^(Deadline exceeded) after .*/, '$1') // grpc-js adds timings
    .replace(/ Resolution note: ?$/, '')
    .replace(/\(([0-9a-f]{8})\)$/, '(<error id>)');
  if (text.length > MAX_MESSAGE_CHARS) text = `${text.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
  text = text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/`/g, "'");
  const shown = note || (text ? `\`${code}\` ${text}` : `\`${code}\``);
  return shown;
}

function sectionBounds(text, name) {
  const begin = text.indexOf(`<!-- catalogue:${name} begin`);
  const end = text.indexOf(`<!-- catalogue:${name} end -->`);
  if (begin < 0 || end < begin) return null;
  return { start: text.indexOf('\n', begin) + 1, end };
}

/** The table rows of section `name`: Map caseId -> array of cells (after the id). */
function readCatalogue(name) {
  const text = fs.existsSync(RELIABILITY_MD) ? fs.readFileSync(RELIABILITY_MD, 'utf8') : '';
  const bounds = sectionBounds(text, name);
  const rows = new Map();
  if (!bounds) return rows;
  for (const line of text.slice(bounds.start, bounds.end).split('\n')) {
    const m = line.match(/^\| `([^`]+)` \|(.*)\|$/);
    if (!m) continue;
    rows.set(m[1], m[2].split(/(?<!\\)\|/).map((c) => c.trim()));
  }
  return rows;
}

/** Replaces section `name`'s body with `header` (markdown lines) and one row per [id, ...cells]. */
function writeCatalogue(name, header, rows) {
  const text = fs.readFileSync(RELIABILITY_MD, 'utf8');
  const bounds = sectionBounds(text, name);
  if (!bounds) throw new Error(`docs/RELIABILITY.md has no <!-- catalogue:${name} begin/end --> markers`);
  const body = [...header, ...rows.map(([id, ...cells]) => `| \`${id}\` | ${cells.join(' | ')} |`)].join('\n');
  fs.writeFileSync(RELIABILITY_MD, text.slice(0, bounds.start) + body + '\n' + text.slice(bounds.end));
}

const updating = () => process.env.KILN_UPDATE_CATALOGUE === '1';

/** Kiln's task token format (cluster/task_token.h, version 1) built from what Describe shows. */
function forgeKilnToken(namespace, activityId, runId, attempt) {
  const varint = (n) => {
    const out = [];
    while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
    out.push(n);
    return Buffer.from(out);
  };
  const str = (s) => Buffer.concat([varint(Buffer.byteLength(s)), Buffer.from(s)]);
  return Buffer.concat([Buffer.from('KT\x01', 'latin1'), str(namespace), str(activityId), str(runId), varint(attempt)]);
}

module.exports = { BAD_UTF8, cell, encode, forgeKilnToken, rawCall, rawClient, readCatalogue, updating,
  withBadUtf8, writeCatalogue };
