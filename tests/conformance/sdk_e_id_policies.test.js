'use strict';
// Issue 3, conformance (e): duplicate activity ids follow the id conflict policy (running run) and
// the id reuse policy (closed run); `terminate` works.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Context } = require('@temporalio/activity');
const {
  ActivityExecutionAlreadyStartedError, ActivityExecutionFailedError, TerminatedFailure,
} = require('@temporalio/client');
const { runWorker, uniqueName, useDevClusterWithClient, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

const startedInWorker = new Map(); // activityId -> resolve()
const activities = {
  async quick(n) {
    return n + 1;
  },
  async runUntilStopped() {
    const ctx = Context.current();
    const resolve = startedInWorker.get(ctx.info.activityId);
    if (resolve) resolve();
    for (let i = 0; i < 100; i++) { // at most ~20 s
      ctx.heartbeat(i);
      await ctx.sleep(200);
    }
    return 'ran out';
  },
};

const baseOptions = (id, taskQueue) => ({ id, taskQueue, args: [1], startToCloseTimeout: '20s' });

async function expectAlreadyStarted(promise, id, existingRunId, what) {
  const err = await promise.then((h) => new Error(`${what}: start succeeded with run ${h.runId}`), (e) => e);
  assert.ok(err instanceof ActivityExecutionAlreadyStartedError,
    `${what}: expected ActivityExecutionAlreadyStartedError, got ${err && err.stack}`);
  assert.equal(err.activityId, id, `${what}: activityId of the error`);
  assert.equal(err.runId, existingRunId, `${what}: runId of the error names the existing run`);
}

async function terminateAndWait(handle) {
  await handle.terminate('conformance test cleans up');
  return withTimeout(handle.result().then(() => null, (e) => e), 10000, `result() of terminated ${handle.activityId}`);
}

test('(e) starting a running activity id again fails under FAIL (the default) and attaches under USE_EXISTING',
  { timeout: 20000 }, async () => {
    const taskQueue = uniqueName('e-tq-no-worker');
    const id = uniqueName('e-dup');
    const first = await env.client.activity.start('quick', baseOptions(id, taskQueue));
    assert.ok(first.runId, 'start returns a run id');

    await expectAlreadyStarted(env.client.activity.start('quick', baseOptions(id, taskQueue)),
      id, first.runId, 'default conflict policy');
    await expectAlreadyStarted(env.client.activity.start('quick', { ...baseOptions(id, taskQueue), idConflictPolicy: 'FAIL' }),
      id, first.runId, 'conflict policy FAIL');
    const attached = await env.client.activity.start('quick', { ...baseOptions(id, taskQueue), idConflictPolicy: 'USE_EXISTING' });
    assert.equal(attached.runId, first.runId, 'USE_EXISTING returns the running run');

    await terminateAndWait(first);
  });

test('(e) terminate() closes an activity a worker is running; the client sees a TerminatedFailure',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('e-tq');
    const id = uniqueName('e-term');
    const started = new Promise((resolve) => startedInWorker.set(id, resolve));
    await runWorker(env.cluster, { taskQueue, activities }, async () => {
      const handle = await env.client.activity.start('runUntilStopped', {
        id, taskQueue, startToCloseTimeout: '30s', heartbeatTimeout: '2s', retry: { maximumAttempts: 1 },
      });
      await withTimeout(started, 10000, `activity ${id} starting on the worker`);
      await handle.terminate('conformance test terminates');
      const err = await withTimeout(handle.result().then((v) => new Error(`result() resolved with ${v}`), (e) => e),
        10000, `result() of terminated ${id}`);
      assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
      assert.ok(err.cause instanceof TerminatedFailure,
        `expected cause TerminatedFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);
      assert.equal((await handle.describe()).status, 'TERMINATED');
    });
  });

test('(e) reusing the id of a closed activity follows the id reuse policy',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('e-tq');
    // A terminated (= not successful) run: REJECT_DUPLICATE refuses, ALLOW_DUPLICATE_FAILED_ONLY
    // and ALLOW_DUPLICATE (the default) start new runs.
    const failedId = uniqueName('e-reuse-failed');
    const r1 = await env.client.activity.start('quick', baseOptions(failedId, uniqueName('e-tq-no-worker')));
    assert.ok((await terminateAndWait(r1)) instanceof ActivityExecutionFailedError);
    await expectAlreadyStarted(env.client.activity.start('quick',
      { ...baseOptions(failedId, taskQueue), idReusePolicy: 'REJECT_DUPLICATE' }), failedId, r1.runId,
    'REJECT_DUPLICATE after a terminated run');
    const r2 = await env.client.activity.start('quick',
      { ...baseOptions(failedId, taskQueue), idReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' });
    assert.ok(r2.runId && r2.runId !== r1.runId, `ALLOW_DUPLICATE_FAILED_ONLY after terminate: new run, got ${r2.runId}`);
    await terminateAndWait(r2);
    const r3 = await env.client.activity.start('quick', baseOptions(failedId, taskQueue));
    assert.ok(r3.runId && r3.runId !== r2.runId, `default policy after terminate: new run, got ${r3.runId}`);

    // A completed run: ALLOW_DUPLICATE_FAILED_ONLY refuses, ALLOW_DUPLICATE starts a new run.
    const doneId = uniqueName('e-reuse-done');
    await runWorker(env.cluster, { taskQueue, activities }, async () => {
      assert.equal(await r3.result(), 2);
      const c1 = await env.client.activity.start('quick', baseOptions(doneId, taskQueue));
      assert.equal(await c1.result(), 2);
      await expectAlreadyStarted(env.client.activity.start('quick',
        { ...baseOptions(doneId, taskQueue), idReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' }), doneId, c1.runId,
      'ALLOW_DUPLICATE_FAILED_ONLY after a completed run');
      const c2 = await env.client.activity.start('quick',
        { ...baseOptions(doneId, taskQueue), args: [41], idReusePolicy: 'ALLOW_DUPLICATE' });
      assert.ok(c2.runId && c2.runId !== c1.runId, `ALLOW_DUPLICATE after completion: new run, got ${c2.runId}`);
      assert.equal(await c2.result(), 42);
    });
  });
