'use strict';
// Workflow activities on the real Temporal server, executed by the C++ worker (`kiln worker`):
// results, application failures as the workflow sees them (type, message, details, retryability),
// retry with backoff, an unknown activity type, and the four activity timeouts.
const { before, test } = require('node:test');
const assert = require('node:assert/strict');
const { ActivityFailure, ApplicationFailure, WorkflowFailedError } = require('@temporalio/client');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, withTimeout } = require('./lib/sdk');
const {
  historyEvents, runWorkflow, startWorkflow, useWorkflowServer, workflowSkip: skip,
} = require('./lib/workflows');

const env = useWorkflowServer();
const taskQueue = uniqueName('wfa-kiln');
let worker;
before(async () => {
  if (skip) return;
  await env.ready();
  worker = await startKilnWorker(env.cluster, { taskQueue });
  env.atStop.push(() => worker.stop());
});

const opts = (extra = {}) => ({ taskQueue, startToCloseTimeout: '10s', ...extra });
const run = (spec, options) => runWorkflow(env, 'runActivity', [spec], options);

test('a workflow gets kiln.echo\'s result back unchanged', { timeout: 30000, skip }, async () => {
  const input = { greeting: 'héllo', n: 42, list: [1, 'two', null], nested: { ok: true } };
  const out = await run({ type: 'kiln.echo', args: [input], options: opts() });
  assert.deepEqual(out, { result: input });
});

test('a non-retryable kiln.fail reaches the workflow as an ApplicationFailure with type, message and details',
  { timeout: 30000, skip }, async () => {
    const details = { order: 1234, reason: 'card expired' };
    const out = await run({
      type: 'kiln.fail', args: ['PaymentDeclined', 'card declined', true, details],
      options: opts({ retry: { initialInterval: '50ms', maximumAttempts: 5 } }),
    });
    const f = out.failure;
    assert.ok(f, `expected a failure, got ${JSON.stringify(out)}`);
    assert.equal(f.name, 'ActivityFailure');
    assert.equal(f.activityType, 'kiln.fail');
    assert.equal(f.retryState, 'NON_RETRYABLE_FAILURE');
    assert.equal(f.cause.name, 'ApplicationFailure');
    assert.equal(f.cause.type, 'PaymentDeclined');
    assert.equal(f.cause.message, 'card declined');
    assert.equal(f.cause.nonRetryable, true);
    assert.deepEqual(f.cause.details, [details]);
  });

test('a failure the workflow rethrows keeps Kiln\'s ApplicationError type and details up to the client',
  { timeout: 30000, skip }, async () => {
    const details = { shard: 7, retryable_later: true };
    const err = await run({
      type: 'kiln.fail', args: ['ShardUnavailable', 'shard 7 is offline', true, details],
      options: opts({ retry: { maximumAttempts: 1 } }), rethrow: true,
    }).then((v) => new Error(`workflow resolved with ${JSON.stringify(v)}`), (e) => e);
    assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${err.stack}`);
    assert.ok(err.cause instanceof ActivityFailure, `expected ActivityFailure, got ${err.cause}`);
    assert.ok(err.cause.cause instanceof ApplicationFailure, `expected ApplicationFailure, got ${err.cause.cause}`);
    assert.equal(err.cause.cause.type, 'ShardUnavailable');
    assert.equal(err.cause.cause.message, 'shard 7 is offline');
    assert.deepEqual(err.cause.cause.details, [details]);
  });

test('a retryable kiln.fail is retried with the policy\'s backoff, then the workflow sees the last failure',
  { timeout: 30000, skip }, async () => {
    const handle = await startWorkflow(env, 'runActivity', [{
      type: 'kiln.fail', args: ['Flaky', 'try again', false],
      options: opts({ retry: { initialInterval: '300ms', backoffCoefficient: 2, maximumAttempts: 3 } }),
    }]);
    const out = await withTimeout(handle.result(), 20000, 'workflow with a retried kiln.fail');
    assert.equal(out.failure.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
    assert.equal(out.failure.cause.type, 'Flaky');
    assert.equal(out.failure.cause.nonRetryable, false);
    const events = await historyEvents(handle);
    const scheduled = events.find((e) => e.type === 'ACTIVITY_TASK_SCHEDULED');
    const started = events.find((e) => e.type === 'ACTIVITY_TASK_STARTED');
    const failed = events.find((e) => e.type === 'ACTIVITY_TASK_FAILED');
    assert.equal(started.attributes.attempt, 3, 'the recorded attempt is the third');
    assert.equal(started.attributes.identity, worker.identity, 'the Kiln worker ran it');
    // Backoff 300 ms then 600 ms: the last attempt cannot fail earlier than 900 ms after scheduling.
    const spent = failed.time - scheduled.time;
    assert.ok(spent >= 850, `three attempts took ${spent} ms; the policy's backoff alone is 900 ms`);
    assert.ok(spent < 10000, `three attempts took ${spent} ms`);
  });

test('an unknown activity type fails as a retryable NotFoundError naming what the Kiln worker serves',
  { timeout: 30000, skip }, async () => {
    const out = await run({
      type: 'no.such.activity', args: ['x'],
      options: opts({ retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 2 } }),
    });
    const cause = out.failure && out.failure.cause;
    assert.ok(cause, `expected a failure, got ${JSON.stringify(out)}`);
    assert.equal(out.failure.retryState, 'MAXIMUM_ATTEMPTS_REACHED', 'NotFoundError is retryable');
    assert.equal(cause.type, 'NotFoundError');
    assert.equal(cause.nonRetryable, false);
    assert.match(cause.message, /no\.such\.activity/);
    assert.match(cause.message, /kiln\.echo/, 'the message lists the registered types');
  });

// The four timeouts, each ending the activity (no retries left) with a TimeoutFailure of its type.
const timeouts = [
  ['SCHEDULE_TO_START', 'no worker polls its queue', {
    type: 'kiln.echo', args: ['never'],
    options: { taskQueue: uniqueName('wfa-nobody'), scheduleToStartTimeout: '1s', startToCloseTimeout: '10s' },
  }],
  ['START_TO_CLOSE', 'kiln.sleep outlasts its attempt', {
    type: 'kiln.sleep', args: ['20s'], options: opts({ startToCloseTimeout: '1s', retry: { maximumAttempts: 1 } }),
  }],
  ['SCHEDULE_TO_CLOSE', 'kiln.sleep outlasts the whole activity', {
    type: 'kiln.sleep', args: ['20s'],
    options: { taskQueue, scheduleToCloseTimeout: '1500ms', retry: { maximumAttempts: 5 } },
  }],
];
for (const [timeoutType, why, spec] of timeouts) {
  test(`a ${timeoutType} timeout (${why}) reaches the workflow as a TimeoutFailure of that type`,
    { timeout: 30000, skip }, async () => {
      const started = Date.now();
      const out = await run(spec);
      const cause = out.failure && out.failure.cause;
      assert.ok(cause, `expected a failure, got ${JSON.stringify(out)}`);
      assert.equal(cause.name, 'TimeoutFailure', JSON.stringify(out.failure));
      assert.equal(cause.timeoutType, timeoutType, JSON.stringify(out.failure));
      assert.ok(Date.now() - started < 15000, 'the timeout fired well before the activity could finish');
    });
}
// The fourth, HEARTBEAT, needs an activity that stops heartbeating: wf_b kills its worker.
