'use strict';
// The bad-input catalogue's RPC cases (run by badinput_a_rpc.test.js): one bad request each, built
// for one side (kiln dev or the real Temporal dev server) from that side's namespace and, where a
// task token is needed, a task that side just handed out.
//
// A case is [id, RPC, input class, build, options]. build(side) resolves {method, bytes, watch}:
// the request bytes and the activity ids whose state must not change. options.accepted: a server
// may take this request (it is valid to Temporal's API); the row records what each does.
const { BAD_UTF8, encode, withBadUtf8 } = require('./badinput');

const LONG = 'x'.repeat(2000); // over both servers' 1000-byte id limit
const MiB = 1 << 20;
const payloads = (data, encoding = 'binary/plain') => ({ payloads: [{ metadata: { encoding: Buffer.from(encoding) }, data }] });

/** StartActivityExecution for case `id` with `over` applied (a field set to undefined is left out). */
function start(side, id, over = {}) {
  const req = { namespace: side.ns, activityId: `bad-${id}`, activityType: { name: 'bad.type' },
    taskQueue: { name: 'bad-q' }, startToCloseTimeout: { seconds: 10 }, identity: 'badinput', ...over };
  for (const k of Object.keys(req)) if (req[k] === undefined) delete req[k];
  return { method: 'StartActivityExecution', bytes: withBadUtf8(encode('StartActivityExecution', req)), watch: [] };
}

const varint = (n) => {
  const out = [];
  while (n > 0x7f) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return Buffer.from(out);
};

/** A Failure nested `depth` deep through `cause` (field 4), built without recursion. */
function nestedFailure(depth) {
  const inner = Buffer.from([0x0a, 4, ...Buffer.from('deep')]); // message: "deep"
  const lengths = [inner.length];
  for (let i = 1; i < depth; i++) lengths.push(1 + varint(lengths[i - 1]).length + lengths[i - 1]);
  const parts = [];
  for (let i = depth - 1; i >= 1; i--) parts.push(Buffer.from([0x22]), varint(lengths[i - 1]));
  parts.push(inner);
  // application_failure_info (field 5, empty) on the outermost failure: the real server refuses an
  // activity failure without it.
  return Buffer.concat([...parts, Buffer.from([0x2a, 0x00])]);
}

/** RespondActivityTaskFailed on a fresh task with `failureBytes` appended as field 2. */
async function failWith(side, id, failureBytes) {
  const task = await side.task(id);
  const head = encode('RespondActivityTaskFailed', { namespace: side.ns, taskToken: task.token, identity: 'badinput' });
  return { method: 'RespondActivityTaskFailed', watch: [task.activityId],
    bytes: Buffer.concat([head, Buffer.from([0x12]), varint(failureBytes.length), failureBytes]) };
}

/** `method` with a task token made from a fresh task's by `mangle` (token bytes -> bytes). */
async function withToken(side, id, method, mangle, extra = {}) {
  const task = await side.task(id);
  const token = mangle(task.token, task);
  return { method, watch: [task.activityId],
    bytes: encode(method, { namespace: side.ns, taskToken: token, identity: 'badinput', ...extra }) };
}

const simple = (method, req) => ({ method, bytes: withBadUtf8(encode(method, req)), watch: [] });

/** Cases that send one request and need no task. */
function nameCases() {
  const cases = [];
  for (const [field, set] of [
    ['activity-id', (v) => ({ activityId: v })],
    ['activity-type', (v) => ({ activityType: { name: v } })],
    ['task-queue', (v) => ({ taskQueue: { name: v } })],
    ['namespace', (v) => ({ namespace: v })],
  ]) {
    for (const [kind, value] of [['empty', ''], ['oversized', LONG], ['invalid-utf8', BAD_UTF8]]) {
      cases.push([`start.${field}.${kind}`, 'StartActivityExecution', `${kind} name`,
        (s) => start(s, `${field}-${kind}`, set(value))]);
    }
  }
  cases.push(
    ['start.identity.oversized', 'StartActivityExecution', 'oversized name', (s) => start(s, 'id-over', { identity: LONG })],
    ['start.identity.invalid-utf8', 'StartActivityExecution', 'invalid-UTF-8 name', (s) => start(s, 'id-utf8', { identity: BAD_UTF8 })],
    ['start.request-id.oversized', 'StartActivityExecution', 'oversized name', (s) => start(s, 'rid-over', { requestId: LONG })],
    ['start.task-queue.reserved', 'StartActivityExecution', 'reserved name', (s) => start(s, 'tq-sys', { taskQueue: { name: '/_sys/bad' } })],
    ['describe.activity-id.empty', 'DescribeActivityExecution', 'empty name', (s) => simple('DescribeActivityExecution', { namespace: s.ns })],
    ['describe.activity-id.oversized', 'DescribeActivityExecution', 'oversized name',
      (s) => simple('DescribeActivityExecution', { namespace: s.ns, activityId: LONG })],
    ['describe.activity-id.invalid-utf8', 'DescribeActivityExecution', 'invalid-UTF-8 name',
      (s) => simple('DescribeActivityExecution', { namespace: s.ns, activityId: BAD_UTF8 })],
    ['describe.run-id.not-uuid', 'DescribeActivityExecution', 'malformed id',
      (s) => simple('DescribeActivityExecution', { namespace: s.ns, activityId: s.sentinel, runId: 'not-a-uuid' })],
    ['poll-execution.activity-id.empty', 'PollActivityExecution', 'empty name', (s) => simple('PollActivityExecution', { namespace: s.ns })],
    ['poll-task.task-queue.empty', 'PollActivityTaskQueue', 'empty name',
      (s) => simple('PollActivityTaskQueue', { namespace: s.ns, identity: 'badinput' })],
    ['poll-task.task-queue.oversized', 'PollActivityTaskQueue', 'oversized name',
      (s) => simple('PollActivityTaskQueue', { namespace: s.ns, taskQueue: { name: LONG }, identity: 'badinput' })],
    ['poll-task.task-queue.invalid-utf8', 'PollActivityTaskQueue', 'invalid-UTF-8 name',
      (s) => simple('PollActivityTaskQueue', { namespace: s.ns, taskQueue: { name: BAD_UTF8 }, identity: 'badinput' })],
    ['poll-task.identity.oversized', 'PollActivityTaskQueue', 'oversized name',
      (s) => simple('PollActivityTaskQueue', { namespace: s.ns, taskQueue: { name: 'bad-empty-q' }, identity: LONG })],
    ['heartbeat-by-id.activity-id.empty', 'RecordActivityTaskHeartbeatById', 'empty name',
      (s) => simple('RecordActivityTaskHeartbeatById', { namespace: s.ns, identity: 'badinput' })],
    ['heartbeat-by-id.activity-id.unknown', 'RecordActivityTaskHeartbeatById', 'unknown id',
      (s) => simple('RecordActivityTaskHeartbeatById', { namespace: s.ns, activityId: 'bad-no-such', identity: 'badinput' })],
    ['complete-by-id.activity-id.oversized', 'RespondActivityTaskCompletedById', 'oversized name',
      (s) => simple('RespondActivityTaskCompletedById', { namespace: s.ns, activityId: LONG, identity: 'badinput' })],
    ['fail-by-id.activity-id.empty', 'RespondActivityTaskFailedById', 'empty name',
      (s) => simple('RespondActivityTaskFailedById', { namespace: s.ns, identity: 'badinput', failure: { message: 'f' } })],
    ['cancelled-by-id.activity-id.unknown', 'RespondActivityTaskCanceledById', 'unknown id',
      (s) => simple('RespondActivityTaskCanceledById', { namespace: s.ns, activityId: 'bad-no-such', identity: 'badinput' })],
    ['cancel.activity-id.empty', 'RequestCancelActivityExecution', 'empty name',
      (s) => simple('RequestCancelActivityExecution', { namespace: s.ns, requestId: 'r', reason: 'bad' })],
    ['cancel.request-id.oversized', 'RequestCancelActivityExecution', 'oversized name',
      (s) => simple('RequestCancelActivityExecution', { namespace: s.ns, activityId: s.sentinel, requestId: LONG, reason: 'bad' })],
    ['cancel.identity.invalid-utf8', 'RequestCancelActivityExecution', 'invalid-UTF-8 name',
      (s) => simple('RequestCancelActivityExecution', { namespace: s.ns, activityId: s.sentinel, identity: BAD_UTF8, reason: 'bad' })],
    ['terminate.activity-id.oversized', 'TerminateActivityExecution', 'oversized name',
      (s) => simple('TerminateActivityExecution', { namespace: s.ns, activityId: LONG, reason: 'bad' })],
    ['terminate.reason.huge', 'TerminateActivityExecution', 'oversized text',
      (s) => simple('TerminateActivityExecution', { namespace: s.ns, activityId: s.sentinel, reason: 'r'.repeat(3 * MiB) })],
    ['delete.activity-id.empty', 'DeleteActivityExecution', 'empty name', (s) => simple('DeleteActivityExecution', { namespace: s.ns })],
    ['describe-queue.name.empty', 'DescribeTaskQueue', 'empty name',
      (s) => simple('DescribeTaskQueue', { namespace: s.ns, taskQueueType: 2 })],
    ['describe-queue.name.oversized', 'DescribeTaskQueue', 'oversized name',
      (s) => simple('DescribeTaskQueue', { namespace: s.ns, taskQueue: { name: LONG }, taskQueueType: 2 })],
    ['describe-queue.type.unknown', 'DescribeTaskQueue', 'unknown enum value',
      (s) => simple('DescribeTaskQueue', { namespace: s.ns, taskQueue: { name: 'bad-q' }, taskQueueType: 99 }), { accepted: true }],
    ['poll-execution.activity-id.oversized', 'PollActivityExecution', 'oversized name',
      (s) => simple('PollActivityExecution', { namespace: s.ns, activityId: LONG })],
    ['delete.activity-id.unknown', 'DeleteActivityExecution', 'unknown id',
      (s) => simple('DeleteActivityExecution', { namespace: s.ns, activityId: 'bad-no-such' })],
    ['shutdown-worker.identity.oversized', 'ShutdownWorker', 'oversized name',
      (s) => simple('ShutdownWorker', { namespace: s.ns, identity: LONG, stickyTaskQueue: 'bad-q' }), { accepted: true }],
    ['worker-heartbeat.identity.invalid-utf8', 'RecordWorkerHeartbeat', 'invalid-UTF-8 name',
      (s) => simple('RecordWorkerHeartbeat', { namespace: s.ns, identity: BAD_UTF8 })],
    ['describe-namespace.name.oversized', 'DescribeNamespace', 'oversized name', () => simple('DescribeNamespace', { namespace: LONG })],
    ['describe-namespace.name.invalid-utf8', 'DescribeNamespace', 'invalid-UTF-8 name',
      () => simple('DescribeNamespace', { namespace: BAD_UTF8 })],
  );
  const unknownNs = 'bad-no-such-namespace';
  for (const [id, method, req] of [
    ['describe-namespace', 'DescribeNamespace', {}],
    ['describe', 'DescribeActivityExecution', { activityId: 'bad-x' }],
    ['poll-execution', 'PollActivityExecution', { activityId: 'bad-x' }],
    ['poll-task', 'PollActivityTaskQueue', { taskQueue: { name: 'bad-q' }, identity: 'badinput' }],
    ['heartbeat-by-id', 'RecordActivityTaskHeartbeatById', { activityId: 'bad-x' }],
    ['complete-by-id', 'RespondActivityTaskCompletedById', { activityId: 'bad-x' }],
    ['cancel', 'RequestCancelActivityExecution', { activityId: 'bad-x', requestId: 'r' }],
    ['terminate', 'TerminateActivityExecution', { activityId: 'bad-x', requestId: 'r' }],
    ['delete', 'DeleteActivityExecution', { activityId: 'bad-x' }],
    ['shutdown-worker', 'ShutdownWorker', { identity: 'badinput', stickyTaskQueue: 'bad-q' }],
    ['list', 'ListActivityExecutions', { pageSize: 10 }],
    ['count', 'CountActivityExecutions', {}],
    ['describe-queue', 'DescribeTaskQueue', { taskQueue: { name: 'bad-q' }, taskQueueType: 2 }],
  ]) {
    cases.push([`${id}.namespace.unknown`, method, 'unknown namespace', () => simple(method, { namespace: unknownNs, ...req })]);
  }
  return cases;
}

function payloadAndDurationCases() {
  const d = (over) => (s, id) => start(s, id, over);
  const cases = [
    ['start.input.unknown-encoding', 'StartActivityExecution', 'unknown encoding',
      d({ input: payloads(Buffer.from('{"a":1}'), 'no/such-encoding') }), { accepted: true }],
    ['start.input.no-metadata', 'StartActivityExecution', 'malformed payload metadata',
      d({ input: { payloads: [{ data: Buffer.from('1') }] } }), { accepted: true }],
    ['start.input.metadata-key-invalid-utf8', 'StartActivityExecution', 'malformed payload metadata',
      d({ input: { payloads: [{ metadata: { [BAD_UTF8]: Buffer.from('json/plain') }, data: Buffer.from('1') }] } })],
    ['start.input.truncated', 'StartActivityExecution', 'malformed payload metadata', async (s) => {
      const r = start(s, 'input-truncated', { input: payloads(Buffer.from('x'.repeat(64))) });
      return { ...r, bytes: r.bytes.subarray(0, r.bytes.length - 20) };
    }],
    ['start.input.deep-json', 'StartActivityExecution', 'deep nesting',
      d({ input: payloads(Buffer.from('['.repeat(100000) + ']'.repeat(100000)), 'json/plain') }), { accepted: true }],
    ['start.input.over-blob-limit', 'StartActivityExecution', 'over the size limit', d({ input: payloads(Buffer.alloc(3 * MiB)) })],
    ['start.message.over-grpc-limit', 'StartActivityExecution', 'over the size limit', d({ input: payloads(Buffer.alloc(10 * MiB)) })],
    ['start.start-to-close.negative', 'StartActivityExecution', 'negative duration', d({ startToCloseTimeout: { seconds: -5 } })],
    ['start.start-to-close.negative-nanos', 'StartActivityExecution', 'negative duration', d({ startToCloseTimeout: { nanos: -1 } })],
    ['start.start-to-close.huge', 'StartActivityExecution', 'huge duration',
      d({ startToCloseTimeout: { seconds: '315576000000' } }), { accepted: true }],
    ['start.start-to-close.nanos-over-1s', 'StartActivityExecution', 'malformed duration', d({ startToCloseTimeout: { seconds: 1, nanos: 2000000000 } })],
    ['start.schedule-to-close.max-int64', 'StartActivityExecution', 'huge duration',
      d({ scheduleToCloseTimeout: { seconds: '9223372036854775807' } })],
    ['start.heartbeat.negative', 'StartActivityExecution', 'negative duration', d({ heartbeatTimeout: { seconds: -1 } })],
    ['start.start-delay.negative', 'StartActivityExecution', 'negative duration', d({ startDelay: { seconds: -1 } })],
    ['start.retry-initial-interval.negative', 'StartActivityExecution', 'negative duration',
      d({ retryPolicy: { initialInterval: { seconds: -1 } } })],
    ['list.query.deep-nesting', 'ListActivityExecutions', 'deep nesting',
      (s) => simple('ListActivityExecutions', { namespace: s.ns, pageSize: 10, query: `${'('.repeat(5000)}ActivityId = "x"${')'.repeat(5000)}` })],
    ['count.query.deep-nesting', 'CountActivityExecutions', 'deep nesting',
      (s) => simple('CountActivityExecutions', { namespace: s.ns, query: `${'('.repeat(5000)}ActivityId = "x"${')'.repeat(5000)}` })],
    ['list.query.invalid-utf8', 'ListActivityExecutions', 'invalid-UTF-8 name',
      (s) => simple('ListActivityExecutions', { namespace: s.ns, pageSize: 10, query: `ActivityId = "${BAD_UTF8}"` })],
    ['list.page-size.negative', 'ListActivityExecutions', 'negative number',
      (s) => simple('ListActivityExecutions', { namespace: s.ns, pageSize: -1 }), { accepted: true }],
    ['list.page-token.forged', 'ListActivityExecutions', 'forged token',
      (s) => simple('ListActivityExecutions', { namespace: s.ns, pageSize: 10, nextPageToken: Buffer.from('forged-page-token') })],
  ];
  return cases.map(([id, rpc, cls, build, opts]) => [id, rpc, cls, (s) => build(s, id.replace(/\W+/g, '-')), opts]);
}

function taskCases() {
  const flip = (t) => { const b = Buffer.from(t); b[b.length - 1] ^= 0x01; return b; };
  const hb = 'RecordActivityTaskHeartbeat';
  return [
    ['heartbeat.token.empty', hb, 'forged or truncated task token', (s) => withToken(s, 'hb-empty', hb, () => Buffer.alloc(0))],
    ['heartbeat.token.garbage', hb, 'forged or truncated task token', (s) => withToken(s, 'hb-garbage', hb, () => Buffer.from('not a task token'))],
    ['heartbeat.token.truncated', hb, 'forged or truncated task token', (s) => withToken(s, 'hb-trunc', hb, (t) => t.subarray(0, Math.floor(t.length / 2)))],
    ['heartbeat.token.last-byte-flipped', hb, 'forged or truncated task token', (s) => withToken(s, 'hb-flip', hb, flip), { accepted: true }],
    ['heartbeat.token.forged-from-describe', hb, 'forged or truncated task token', (s) => withToken(s, 'hb-forged', hb,
      (t, task) => s.forgeToken(task)), { accepted: true }],
    ['heartbeat.details.huge', hb, 'huge heartbeat details',
      (s) => withToken(s, 'hb-huge', hb, (t) => t, { details: payloads(Buffer.alloc(3 * MiB)) })],
    ['heartbeat.namespace.unknown', hb, 'unknown namespace', async (s) => {
      const task = await s.task('hb-ns');
      return { method: hb, watch: [task.activityId], bytes: encode(hb, { namespace: 'bad-no-such-namespace', taskToken: task.token }) };
    }],
    ['heartbeat-by-id.details.huge', 'RecordActivityTaskHeartbeatById', 'huge heartbeat details', async (s) => {
      const task = await s.task('hbid-huge');
      return { method: 'RecordActivityTaskHeartbeatById', watch: [task.activityId], bytes: encode('RecordActivityTaskHeartbeatById',
        { namespace: s.ns, activityId: task.activityId, details: payloads(Buffer.alloc(3 * MiB)) }) };
    }],
    ['complete.token.garbage', 'RespondActivityTaskCompleted', 'forged or truncated task token',
      (s) => withToken(s, 'done-garbage', 'RespondActivityTaskCompleted', () => Buffer.from([0xff, 0x00, 0x13]))],
    ['complete.token.truncated', 'RespondActivityTaskCompleted', 'forged or truncated task token',
      (s) => withToken(s, 'done-trunc', 'RespondActivityTaskCompleted', (t) => t.subarray(0, t.length - 3))],
    ['complete.result.huge', 'RespondActivityTaskCompleted', 'over the size limit',
      (s) => withToken(s, 'done-huge', 'RespondActivityTaskCompleted', (t) => t, { result: payloads(Buffer.alloc(3 * MiB)) })],
    ['complete.result.metadata-key-invalid-utf8', 'RespondActivityTaskCompleted', 'malformed payload metadata', async (s) => {
      const r = await withToken(s, 'done-utf8', 'RespondActivityTaskCompleted', (t) => t,
        { result: { payloads: [{ metadata: { [BAD_UTF8]: Buffer.from('x') }, data: Buffer.from('1') }] } });
      return { ...r, bytes: withBadUtf8(r.bytes) };
    }],
    ['fail.token.empty', 'RespondActivityTaskFailed', 'forged or truncated task token',
      (s) => withToken(s, 'fail-empty', 'RespondActivityTaskFailed', () => Buffer.alloc(0), { failure: { message: 'f' } })],
    ['fail.failure.30-deep', 'RespondActivityTaskFailed', 'deep nesting', (s) => failWith(s, 'fail-30', nestedFailure(30)), { accepted: true }],
    ['fail.failure.300-deep', 'RespondActivityTaskFailed', 'deep nesting', (s) => failWith(s, 'fail-300', nestedFailure(300)), { accepted: true }],
    ['fail.failure.100000-deep', 'RespondActivityTaskFailed', 'deep nesting', (s) => failWith(s, 'fail-100k', nestedFailure(100000))],
    ['cancelled.token.empty', 'RespondActivityTaskCanceled', 'forged or truncated task token',
      (s) => withToken(s, 'cxl-empty', 'RespondActivityTaskCanceled', () => Buffer.alloc(0))],
    ['cancelled.token.truncated', 'RespondActivityTaskCanceled', 'forged or truncated task token',
      (s) => withToken(s, 'cxl-trunc', 'RespondActivityTaskCanceled', (t) => t.subarray(0, 5))],
  ];
}

module.exports = { cases: () => [...nameCases(), ...payloadAndDurationCases(), ...taskCases()] };
