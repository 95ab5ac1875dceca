'use strict';
// Issue 3, conformance (c): heartbeat details show in `describe`; `cancel()` reaches the TS
// activity as cancellation; the client sees the canceled outcome.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Context } = require('@temporalio/activity');
const { ActivityExecutionFailedError, CancelledFailure } = require('@temporalio/client');
const { runWorker, uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

// activityId -> the error the activity's own code saw when it stopped.
const seenInActivity = new Map();

const activities = {
  async heartbeatUntilCancelled(tag) {
    const ctx = Context.current();
    try {
      for (let step = 1; step <= 150; step++) { // at most ~30 s, then give up
        ctx.heartbeat({ tag, step });
        await ctx.sleep(200); // rejects with the cancellation once the worker learns of it
      }
    } catch (err) {
      seenInActivity.set(ctx.info.activityId, err);
      throw err;
    }
    seenInActivity.set(ctx.info.activityId, new Error('never cancelled'));
    return 'finished without cancellation';
  },
};

test('(c) heartbeat details show in describe, and cancel() reaches the activity and closes it as canceled',
  { timeout: 40000 }, async () => {
    const taskQueue = uniqueName('c-tq');
    const id = uniqueName('c-hb');
    const tag = uniqueName('tag');

    await runWorker(env.cluster, { taskQueue, activities }, async () => {
      const handle = await env.client.activity.start('heartbeatUntilCancelled', {
        id, taskQueue, args: [tag], startToCloseTimeout: '30s', heartbeatTimeout: '1s',
        retry: { maximumAttempts: 1 },
      });

      const running = await waitFor(() => handle.describe({ includeHeartbeatDetails: true }),
        (d) => d.hasHeartbeatDetails, { timeoutMs: 10000, what: `describe(${id}) showing heartbeat details` });
      assert.equal(running.status, 'RUNNING');
      assert.equal(running.heartbeatTimeoutMs, 1000);
      assert.ok(running.lastHeartbeatTime instanceof Date, `lastHeartbeatTime: ${running.lastHeartbeatTime}`);
      const details = await running.getHeartbeatDetails();
      assert.equal(details.tag, tag, `heartbeat details ${JSON.stringify(details)}`);
      assert.ok(Number.isInteger(details.step) && details.step >= 1, `heartbeat details ${JSON.stringify(details)}`);

      await handle.cancel('conformance test cancels');
      const err = await withTimeout(handle.result().then(
        (value) => new Error(`result() resolved with ${JSON.stringify(value)} instead of failing as canceled`),
        (e) => e), 15000, `result() of canceled ${id}`);
      assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
      assert.ok(err.cause instanceof CancelledFailure,
        `expected cause CancelledFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);

      const inActivity = seenInActivity.get(id);
      assert.ok(inActivity instanceof CancelledFailure,
        `the activity saw ${inActivity && inActivity.constructor.name}: ${inActivity}, expected CancelledFailure`);
      const closed = await handle.describe();
      assert.equal(closed.status, 'CANCELED');
    });
  });

test('(c) cancel() of an activity no worker has picked up closes it as canceled at once',
  { timeout: 20000 }, async () => {
    const handle = await env.client.activity.start('heartbeatUntilCancelled', {
      id: uniqueName('c-idle'), taskQueue: uniqueName('c-tq-no-worker'), args: ['x'], startToCloseTimeout: '30s',
    });
    await handle.cancel('conformance test cancels before any worker');
    const err = await withTimeout(handle.result().then(() => null, (e) => e), 10000, 'result() of canceled activity');
    assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err}`);
    assert.ok(err.cause instanceof CancelledFailure, `expected cause CancelledFailure, got ${err.cause}`);
    assert.equal((await handle.describe()).status, 'CANCELED');
  });
