'use strict';
// Issue 4, conformance: the C++ worker's heartbeats as @temporalio/client sees them: details in
// describe(), cancel() honoured, and a heartbeat timeout whose retry resumes from the last details.
//
// kiln.sleep(duration) heartbeats {"progress": {"current": milliseconds slept so far, ...}}
// (docs/PROGRESS.md) and starts from the previous attempt's heartbeat details
// (executor/diagnostic_activities.h); its result is the total slept.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ActivityExecutionFailedError, CancelledFailure } = require('@temporalio/client');
const { startKilnWorker, withKilnWorker } = require('./lib/kilnworker');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

/** The milliseconds slept in kiln.sleep's heartbeat detail (its progress object's `current`). */
const sleptMs = (details) => (details && details.progress ? details.progress.current : details);

test('kiln.sleep heartbeat details show in describe, and cancel() ends it as canceled',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('wb-tq');
    const id = uniqueName('wb-cancel');
    await withKilnWorker(env.cluster, { taskQueue }, async () => {
      const handle = await env.client.activity.start('kiln.sleep', {
        id, taskQueue, args: ['60s'], startToCloseTimeout: '90s', heartbeatTimeout: '2s',
        retry: { maximumAttempts: 1 },
      });
      const running = await waitFor(() => handle.describe({ includeHeartbeatDetails: true }),
        (d) => d.hasHeartbeatDetails, { timeoutMs: 10000, what: `describe(${id}) showing heartbeat details` });
      assert.equal(running.status, 'RUNNING');
      assert.ok(running.lastHeartbeatTime instanceof Date, `lastHeartbeatTime: ${running.lastHeartbeatTime}`);
      const slept = sleptMs(await running.getHeartbeatDetails());
      assert.ok(Number.isInteger(slept) && slept > 0 && slept < 60000,
        `heartbeat details should be the milliseconds slept so far, got ${JSON.stringify(slept)}`);

      await handle.cancel('conformance test cancels');
      const err = await withTimeout(handle.result().then(
        (value) => new Error(`result() resolved with ${JSON.stringify(value)} instead of failing as canceled`),
        (e) => e), 15000, `result() of canceled ${id}`);
      assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
      assert.ok(err.cause instanceof CancelledFailure,
        `expected cause CancelledFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);
      assert.equal((await handle.describe()).status, 'CANCELED');
    });
  });

test('after a heartbeat timeout the retry resumes from the last heartbeat details',
  { timeout: 40000 }, async () => {
    const taskQueue = uniqueName('wb-tq');
    const id = uniqueName('wb-resume');
    const handle = await env.client.activity.start('kiln.sleep', {
      id, taskQueue, args: ['5s'], startToCloseTimeout: '30s', heartbeatTimeout: '1s',
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
    });
    const describe = () => handle.describe({ includeHeartbeatDetails: true });

    // Attempt 1 runs until it has reported 2 s of progress; then its worker dies without a word.
    const first = await startKilnWorker(env.cluster, { taskQueue });
    try {
      await waitFor(async () => sleptMs(await (await describe()).getHeartbeatDetails()), (ms) => ms >= 2000,
        { timeoutMs: 15000, intervalMs: 50, what: `attempt 1 of ${id} heartbeating 2000 ms of progress` });
    } finally {
      await first.stop({ signal: 'SIGKILL' });
    }
    // The server times attempt 1 out on its heartbeat and schedules attempt 2.
    const retrying = await waitFor(describe, (d) => d.attempt === 2,
      { timeoutMs: 10000, what: `heartbeat timeout of attempt 1 of ${id}` });
    const lastOfAttempt1 = sleptMs(await retrying.getHeartbeatDetails());
    assert.ok(lastOfAttempt1 >= 2000, `last details of attempt 1: ${lastOfAttempt1}`);
    assert.ok(retrying.lastHeartbeatTime instanceof Date, `lastHeartbeatTime: ${retrying.lastHeartbeatTime}`);

    const result = await withKilnWorker(env.cluster, { taskQueue }, async () => {
      // Worker 1 is dead, so a newer heartbeat is attempt 2's first, sent at once (~250 ms in).
      // Had attempt 2 started from zero it would report well under the 2000+ ms attempt 1 reached.
      const resumed = await waitFor(describe,
        (d) => d.attempt === 2 && d.lastHeartbeatTime > retrying.lastHeartbeatTime,
        { timeoutMs: 10000, intervalMs: 50, what: `first heartbeat of attempt 2 of ${id}` });
      const firstOfAttempt2 = sleptMs(await resumed.getHeartbeatDetails());
      assert.ok(firstOfAttempt2 > lastOfAttempt1,
        `attempt 2 reported ${firstOfAttempt2} ms at its first heartbeat; it should have resumed from ` +
        `attempt 1's ${lastOfAttempt1} ms`);
      return withTimeout(handle.result(), 15000, `result() of ${id}`);
    });
    assert.ok(result >= 5000 && result < 6000, `total slept over both attempts: ${result}`);
    const done = await handle.describe();
    assert.equal(done.status, 'COMPLETED');
    assert.equal(done.attempt, 2);
  });
