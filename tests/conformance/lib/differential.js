'use strict';
// The differential check: the same Standalone Activity calls against `kiln dev` and the real
// Temporal dev server, answers reduced to what a caller can rely on (status code, the class of the
// error message, which fields are set, shapes of failures), and the differences between the two.
//
// Every difference must be listed in docs/COMPATIBILITY.md by its case id (`diff:<id>`), so the
// table there is what the code does, and a fixed difference shows up as a stale row.
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const COMPATIBILITY_MD = path.resolve(__dirname, '../../../docs/COMPATIBILITY.md');

/** {code: 'OK'|<grpc code name>, message, value} for one call. */
async function outcome(call) {
  try {
    return { code: 'OK', message: '', value: await call() };
  } catch (err) {
    if (typeof err.code !== 'number') throw err;
    return { code: GRPC_CODES[err.code] || String(err.code), message: err.details || err.message };
  }
}
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

const uuid = () => crypto.randomUUID();

/**
 * Paths of the fields set in a decoded proto object (protobufjs plain objects), e.g.
 * ['info.activityId', 'info.retryPolicy.initialInterval.seconds']. Empty messages count as set
 * (`{}` at the path), nulls and empty strings/lists do not.
 */
function setFields(value, prefix = '') {
  if (value === null || value === undefined || value === '') return [];
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return value.length ? [prefix] : [];
  if (Array.isArray(value)) return value.length ? [`${prefix}[]`] : [];
  if (typeof value !== 'object' || typeof value.toNumber === 'function') return [prefix];
  const keys = Object.keys(value).filter((k) => !k.startsWith('_'));
  const out = keys.flatMap((k) => setFields(value[k], prefix ? `${prefix}.${k}` : k));
  return out.length ? out : prefix ? [prefix] : [];
}

/** The `diff:<id>` ids listed in docs/COMPATIBILITY.md. */
function documentedDifferences() {
  if (!fs.existsSync(COMPATIBILITY_MD)) return new Set();
  return new Set([...fs.readFileSync(COMPATIBILITY_MD, 'utf8').matchAll(/`diff:([\w.[\]-]+)`/g)].map((m) => m[1]));
}

/** A readable table of differences for a failing assertion. */
function formatDifferences(diffs) {
  return diffs.map((d) => `  diff:${d.id}\n    kiln dev: ${d.kiln}\n    temporal: ${d.temporal}`).join('\n');
}

module.exports = { documentedDifferences, formatDifferences, outcome, setFields, uuid };
