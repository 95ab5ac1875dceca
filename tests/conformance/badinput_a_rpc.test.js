'use strict';
// The bad-input catalogue of `kiln dev`'s RPCs (docs/RELIABILITY.md, "Bad-input catalogue"): each
// case of lib/badinput_rpc_cases.js (empty, oversized and invalid-UTF-8 names; malformed payload
// metadata and unknown encodings; forged and truncated task tokens; negative and huge durations;
// huge heartbeat details; deep nesting; unknown namespaces; messages over the size limit) goes to
// kiln dev as raw bytes, then, in the temporal pass, to the real Temporal dev server too. Also:
// many long polls on one connection and on several, and requests while and after a server stops.
//
// For kiln dev each case must answer an error (unless the case says the request is valid to
// Temporal's API), with a message, and change nothing: the count of activities and the state of
// every activity it touches (status, attempt, heartbeat details, failure) read the same after, and
// the server still answers. The code and message each server answered must be the row of the
// table in docs/RELIABILITY.md: the kiln dev pass checks the kiln dev column, the temporal pass
// both. KILN_UPDATE_CATALOGUE=1 writes the table from what was answered instead.
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { startDevCluster } = require('./lib/devcluster');
const { cell, encode, forgeKilnToken, rawCall, rawClient, readCatalogue, updating, writeCatalogue } = require('./lib/badinput');
const { cases } = require('./lib/badinput_rpc_cases');
const { onTemporal, startTemporalDev } = require('./lib/server');
const fs = require('node:fs');
const path = require('node:path');

const COMPATIBILITY_MD = path.resolve(__dirname, '../../docs/COMPATIBILITY.md');

const SECTION = 'rpc';
const HEADER = [
  '| case (subtest of `badinput_a_rpc.test.js`) | RPC | input | kiln dev answers | Temporal Server 1.32.0 answers |',
  '| --- | --- | --- | --- | --- |',
];
const NOT_RUN = 'not run yet (temporal pass)';
const sides = {};
const answered = new Map(); // case id -> {rpc, cls, kiln, temporal}

async function setUpSide(cluster) {
  const side = { cluster, ns: cluster.namespace, client: rawClient(cluster.address), sentinel: 'bad-sentinel' };
  const call = (method, req, opts) => rawCall(side.client, method, encode(method, { namespace: side.ns, ...req }), opts);
  side.call = call;
  const ok = (r, what) => { assert.equal(r.code, 'OK', `${cluster.kind} ${what}: ${r.code} ${r.message}`); return r.response; };
  ok(await call('StartActivityExecution', { activityId: side.sentinel, activityType: { name: 'bad.type' },
    taskQueue: { name: 'bad-sentinel-q' }, startToCloseTimeout: { seconds: 300 } }), 'start sentinel');
  // A task of its own for a case: started on a queue of its own and polled, so its token is live.
  side.task = async (id) => {
    const activityId = `tok-${id}`;
    const started = ok(await call('StartActivityExecution', { activityId, activityType: { name: 'bad.type' },
      taskQueue: { name: `tokq-${id}` }, startToCloseTimeout: { seconds: 300 } }), `start ${activityId}`);
    const polled = ok(await call('PollActivityTaskQueue', { taskQueue: { name: `tokq-${id}` }, identity: 'badinput' },
      { deadlineMs: 15000 }), `poll ${activityId}`);
    assert.ok(polled.taskToken && polled.taskToken.length, `${cluster.kind}: no task for ${activityId}`);
    return { activityId, runId: started.runId, token: Buffer.from(polled.taskToken, 'base64') };
  };
  side.forgeToken = (task) => forgeKilnToken(side.ns, task.activityId, task.runId, 1);
  return side;
}

/** What a bad request must not change on kiln dev: the count and the watched activities' state. */
async function snapshot(side, watch) {
  const count = await side.call('CountActivityExecutions', { query: '' });
  assert.equal(count.code, 'OK', `kiln dev stopped answering: CountActivityExecutions ${count.code} ${count.message}`);
  const state = { count: count.response.count };
  for (const activityId of [side.sentinel, ...watch]) {
    const d = await side.call('DescribeActivityExecution', { activityId, includeHeartbeatDetails: true, includeOutcome: true });
    assert.equal(d.code, 'OK', `describe ${activityId}: ${d.code} ${d.message}`);
    const info = d.response.info || {};
    state[activityId] = JSON.stringify({ status: info.status, runState: info.runState, attempt: info.attempt,
      details: d.response.heartbeatDetails, failure: info.lastFailure, outcome: d.response.outcome });
  }
  return state;
}

before(async () => {
  sides.kiln = await setUpSide({ kind: 'kiln-dev', ...(await startDevCluster()) });
  if (onTemporal()) sides.temporal = await setUpSide(await startTemporalDev());
});
after(async () => {
  for (const side of Object.values(sides)) {
    side.client.close();
    await side.cluster.stop().catch(() => {});
  }
});

const deadlineOf = (method) => (method.startsWith('Poll') ? 3000 : 20000);

for (const [id, rpc, cls, build, options = {}] of cases()) {
  test(id, { timeout: 120000 }, async () => {
    const row = { rpc, cls };
    // The real server first, so its answer is recorded even when kiln dev's fails an assertion.
    for (const [name, side] of Object.entries(sides).reverse()) {
      const request = await build(side);
      assert.equal(request.method, rpc);
      const before = name === 'kiln' ? await snapshot(side, request.watch) : null;
      const got = await rawCall(side.client, request.method, request.bytes, { deadlineMs: deadlineOf(request.method) });
      row[name] = cell(got);
      answered.set(id, row); // recorded even when an assertion below fails
      if (name !== 'kiln') continue;
      assert.notEqual(got.code, 'DEADLINE_EXCEEDED', `kiln dev did not answer ${id} in time`);
      if (got.code !== 'OK') assert.ok(got.message.length > 10, `kiln dev's ${got.code} for ${id} says nothing`);
      const afterwards = await snapshot(side, request.watch);
      if (!options.accepted) {
        assert.notEqual(got.code, 'OK', `kiln dev accepted ${id}`);
        assert.deepEqual(afterwards, before, `${id} changed kiln dev's state`);
      }
    }
    answered.set(id, row);
  });
}

/** Histogram of codes (and their messages) of many calls. */
function tally(results) {
  const counts = new Map();
  for (const r of results) {
    const key = cell(r);
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  return [...counts].sort().map(([key, n]) => `${n} × ${key}`).join('; ');
}

// How many polls beat their deadline depends on the machine's load (a server answers a held poll
// shortly before its deadline, here all at the same moment), so the row gives the polls refused
// for a limit, which is exact, and the property checked for the rest; the counts go to the log.
function pollsCell(results) {
  const refused = results.filter((r) => r.code === 'RESOURCE_EXHAUSTED');
  const others = results.filter((r) => r.code !== 'RESOURCE_EXHAUSTED');
  const held = others.every((r) => ['OK', 'DEADLINE_EXCEEDED', 'CANCELLED'].includes(r.code))
    ? `${others.length} held, each answered \`OK\` (no task) or, under load, at its deadline (\`DEADLINE_EXCEEDED\`, \`CANCELLED\`)`
    : tally(others);
  return refused.length ? `${held}; ${tally(refused)}` : held;
}

test('pollers.one-connection.1100', { timeout: 60000 }, async () => {
  const row = { rpc: 'PollActivityTaskQueue', cls: 'too many pollers and streams (1,100 polls on one queue and connection, 5 s deadline)' };
  for (const [name, side] of Object.entries(sides).reverse()) {
    const bytes = encode('PollActivityTaskQueue', { namespace: side.ns, taskQueue: { name: 'bad-many-q' }, identity: 'badinput' });
    const results = await Promise.all(Array.from({ length: 1100 }, () => rawCall(side.client, 'PollActivityTaskQueue', bytes, { deadlineMs: 5000 })));
    const alive = await rawCall(side.client, 'DescribeNamespace', encode('DescribeNamespace', { namespace: side.ns }));
    console.log(`1,100 polls on one connection, ${name}: ${tally(results)}; then DescribeNamespace ${alive.code}`);
    row[name] = `${pollsCell(results)}; then DescribeNamespace ${cell(alive)}`;
    if (name === 'kiln') assert.ok(!results.some((r) => r.code === 'CANCELLED'), 'kiln dev cancelled a held poll');
  }
  answered.set('pollers.one-connection.1100', row);
  assert.match(row.kiln, /^\d+ held, each answered .*then DescribeNamespace `OK`$/);
});

test('shutdown.poll-held-and-request-after', { timeout: 90000 }, async () => {
  const row = { rpc: 'PollActivityTaskQueue, then StartActivityExecution', cls: 'requests while and after the server stops (SIGTERM)' };
  const servers = { kiln: () => startDevCluster().then((c) => ({ kind: 'kiln-dev', ...c })), temporal: () => startTemporalDev() };
  for (const name of Object.keys(sides)) {
    const cluster = await servers[name]();
    const client = rawClient(cluster.address);
    try {
      const call = (method, req, deadlineMs) => rawCall(client, method, encode(method, { namespace: cluster.namespace, ...req }), { deadlineMs });
      const held = call('PollActivityTaskQueue', { taskQueue: { name: 'bad-stop-q' }, identity: 'badinput' }, 20000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.stop();
      const poll = await held;
      const late = await call('StartActivityExecution', { activityId: 'bad-after-stop', activityType: { name: 't' },
        taskQueue: { name: 'bad-stop-q' }, startToCloseTimeout: { seconds: 10 } }, 5000);
      row[name] = `held poll: ${cell(poll)}; after: ${cell(late)}`;
      if (name === 'kiln') {
        assert.ok(['OK', 'UNAVAILABLE', 'CANCELLED'].includes(poll.code), `held poll at shutdown: ${poll.code} ${poll.message}`);
        assert.equal(late.code, 'UNAVAILABLE', `request after shutdown: ${late.code} ${late.message}`);
      }
    } finally {
      client.close();
      await cluster.stop().catch(() => {});
    }
  }
  answered.set('shutdown.poll-held-and-request-after', row);
});

test('docs/RELIABILITY.md lists every case with the answers seen', () => {
  const documented = readCatalogue(SECTION);
  const rows = [...answered].map(([id, r]) => {
    const old = documented.get(id);
    const temporal = r.temporal || (old && old[3]) || NOT_RUN;
    return [id, r.rpc, r.cls, r.kiln, temporal];
  });
  const accepted = rows.filter(([id]) => answered.get(id).kiln === '`OK`').length;
  const summary = `${rows.length} cases, every one answered: kiln dev accepted the ${accepted} that are valid to ` +
    `Temporal's API and refused the other ${rows.length - accepted} with an error and a message; it crashed on none, ` +
    'and no refused request changed its state.';
  if (updating()) {
    writeCatalogue(SECTION, [summary, '', ...HEADER], rows);
    return;
  }
  const problems = [];
  if (!fs.readFileSync(path.resolve(__dirname, '../../docs/RELIABILITY.md'), 'utf8').includes(summary)) {
    problems.push(`the catalogue's first line should read: ${summary}`);
  }
  for (const [id, rpc, cls, kiln, temporal] of rows) {
    const doc = documented.get(id);
    if (!doc) { problems.push(`missing row ${id}`); continue; }
    const [, , , docKiln, docTemporal] = [id, ...doc];
    if (docKiln !== kiln) problems.push(`${id}: kiln dev answers ${kiln}\n    the doc says ${docKiln}`);
    if (answered.get(id).temporal && docTemporal !== temporal) {
      problems.push(`${id}: the real server answers ${temporal}\n    the doc says ${docTemporal}`);
    }
    void rpc; void cls;
  }
  for (const id of documented.keys()) if (!answered.has(id)) problems.push(`stale row ${id} (no such case)`);
  assert.deepEqual(problems, [], 'docs/RELIABILITY.md catalogue differs from the answers ' +
    '(KILN_UPDATE_CATALOGUE=1 tests/conformance/run --server temporal badinput_a_rpc.test.js rewrites it):\n' + problems.join('\n'));
});

// Where the two servers answer with different status codes, docs/COMPATIBILITY.md must say so and
// why, by the case id (`badinput:<id>`); a listed case whose codes now agree is stale.
test('docs/COMPATIBILITY.md lists every case where the status codes differ', { skip: !onTemporal() && 'needs the real server (temporal pass)' }, () => {
  const codes = (text) => [...(text || '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]).join(',');
  const listed = new Set([...fs.readFileSync(COMPATIBILITY_MD, 'utf8').matchAll(/`badinput:([\w.-]+)`/g)].map((m) => m[1]));
  const differ = [...answered].filter(([, r]) => r.temporal && codes(r.kiln) !== codes(r.temporal)).map(([id]) => id);
  const missing = differ.filter((id) => !listed.has(id));
  const stale = [...listed].filter((id) => answered.has(id) && !differ.includes(id));
  assert.deepEqual({ missing, stale }, { missing: [], stale: [] },
    'status codes that differ from the real server must be rows of docs/COMPATIBILITY.md (`badinput:<id>`), and only those');
});
