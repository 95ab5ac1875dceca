'use strict';
// Issue 3, conformance (d): an activity that stops heartbeating times out, is retried, and the
// next attempt receives the last heartbeat details.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Context } = require('@temporalio/activity');
const { ActivityExecutionFailedError, TimeoutFailure } = require('@temporalio/client');
const { runWorker, uniqueName, useDevClusterWithClient, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

const activities = {
  // Attempt 1 heartbeats once and then goes silent; later attempts report what they were given.
  async checkpointThenStall(checkpoint) {
    const ctx = Context.current();
    const { attempt, heartbeatDetails } = ctx.info;
    if (attempt === 1) {
      ctx.heartbeat({ checkpoint });
      await ctx.sleep(15000).catch(() => {}); // silent; ends when the worker shuts down
      return { attempt, stale: true };
    }
    return { attempt, heartbeatDetails };
  },
};

test('(d) an activity that stops heartbeating times out, is retried, and the retry gets the last details',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('d-tq');
    const id = uniqueName('d-stall');
    const result = await runWorker(env.cluster, { taskQueue, activities }, () =>
      withTimeout(env.client.activity.execute('checkpointThenStall', {
        id, taskQueue, args: [{ step: 7, note: 'resume here' }], startToCloseTimeout: '20s', heartbeatTimeout: '1s',
        retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
      }), 15000, `execute(${id})`));

    assert.deepEqual(result, { attempt: 2, heartbeatDetails: { checkpoint: { step: 7, note: 'resume here' } } });
  });

test('(d) without retries left, a heartbeat timeout closes the activity as timed out with type HEARTBEAT',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('d-tq');
    const id = uniqueName('d-timeout');
    const err = await runWorker(env.cluster, { taskQueue, activities }, () =>
      withTimeout(env.client.activity.execute('checkpointThenStall', {
        id, taskQueue, args: ['only attempt'], startToCloseTimeout: '20s', heartbeatTimeout: '1s',
        retry: { maximumAttempts: 1 },
      }).then((v) => new Error(`execute resolved with ${JSON.stringify(v)}`), (e) => e), 15000, `execute(${id})`));

    assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
    assert.ok(err.cause instanceof TimeoutFailure,
      `expected cause TimeoutFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);
    assert.equal(err.cause.timeoutType, 'HEARTBEAT');
    assert.equal((await env.client.activity.getHandle(id).describe()).status, 'TIMED_OUT');
  });
