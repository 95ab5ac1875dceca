'use strict';
// SDK workers as peers (bench/peers/: Go SDK and Python SDK workers serving peer.noop and
// peer.sleep) through the worker scenarios that make sense for them, on the selected server:
// a result, heartbeat details in describe, cancel, and a SIGKILL whose heartbeat-timeout retry on a
// second worker resumes from the last heartbeat details. The same assertions hold for the C++
// worker (worker_*.test.js): the suite checks Temporal behaviour, not Kiln's.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ActivityExecutionFailedError, CancelledFailure } = require('@temporalio/client');
const { peerUnavailable, startPeerWorker } = require('./lib/peers');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();
const current = (details) => (details ? details.current : undefined);

for (const kind of ['go', 'python']) {
  const skip = process.env.KILN_CONFORMANCE_PEERS === '0' ? 'KILN_CONFORMANCE_PEERS=0' : peerUnavailable(kind);

  test(`${kind} peer: peer.noop completes and peer.sleep heartbeats details that describe shows, then cancel() ends it`,
    { timeout: 60000, skip }, async () => {
      const taskQueue = uniqueName(`peer-${kind}`);
      const worker = await startPeerWorker(kind, env.cluster, { taskQueue });
      try {
        const noop = await withTimeout(env.client.activity.execute('peer.noop', {
          id: uniqueName(`${kind}-noop`), taskQueue, startToCloseTimeout: '10s',
        }), 15000, `${kind} peer.noop`);
        assert.equal(noop ?? null, null);

        const handle = await env.client.activity.start('peer.sleep', {
          id: uniqueName(`${kind}-sleep`), taskQueue, args: [60000], startToCloseTimeout: '90s', heartbeatTimeout: '2s',
          retry: { maximumAttempts: 1 },
        });
        const running = await waitFor(() => handle.describe({ includeHeartbeatDetails: true }),
          (d) => d.hasHeartbeatDetails, { timeoutMs: 15000, what: `${kind} peer.sleep heartbeat in describe` });
        assert.equal(running.status, 'RUNNING');
        const slept = current(await running.getHeartbeatDetails());
        assert.ok(slept > 0 && slept < 60000, `heartbeat details: ${slept}`);
        await handle.cancel('peer test cancels');
        const err = await withTimeout(handle.result().then((v) => new Error(`resolved ${v}`), (e) => e), 15000,
          `${kind} result() after cancel`);
        assert.ok(err instanceof ActivityExecutionFailedError && err.cause instanceof CancelledFailure,
          `expected a CancelledFailure, got ${err.stack}`);
        assert.equal((await handle.describe()).status, 'CANCELED');
      } finally {
        await worker.stop();
      }
    });

  test(`${kind} peer: after SIGKILL the heartbeat-timeout retry on a second worker resumes from the last details`,
    { timeout: 60000, skip }, async () => {
      const taskQueue = uniqueName(`peer-${kind}`);
      const handle = await env.client.activity.start('peer.sleep', {
        id: uniqueName(`${kind}-resume`), taskQueue, args: [4000], startToCloseTimeout: '30s', heartbeatTimeout: '1s',
        retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
      });
      const describe = () => handle.describe({ includeHeartbeatDetails: true });
      const first = await startPeerWorker(kind, env.cluster, { taskQueue });
      try {
        await waitFor(async () => current(await (await describe()).getHeartbeatDetails()), (ms) => ms >= 1500,
          { timeoutMs: 15000, intervalMs: 50, what: `${kind} attempt 1 heartbeating 1500 ms` });
      } finally {
        await first.stop({ signal: 'SIGKILL' });
      }
      const retrying = await waitFor(describe, (d) => d.attempt === 2, { timeoutMs: 10000, what: 'heartbeat timeout' });
      const last = current(await retrying.getHeartbeatDetails());
      const second = await startPeerWorker(kind, env.cluster, { taskQueue });
      try {
        const polling = Date.now();
        const result = await withTimeout(handle.result(), 20000, `${kind} result after the retry`);
        const attempt2Ms = Date.now() - polling;
        assert.equal(result, 4000, 'the total slept over both attempts is the requested time');
        // Resumed from >= 1500 ms, attempt 2 sleeps at most 2500 ms; from zero it would sleep 4000.
        assert.ok(attempt2Ms < 3700, `attempt 2 took ${attempt2Ms} ms after ${last} ms of attempt 1: it did not resume`);
        const done = await handle.describe();
        assert.equal(done.status, 'COMPLETED');
        assert.equal(done.attempt, 2);
        assert.ok(last >= 1500, `attempt 1's last details: ${last}`);
      } finally {
        await second.stop();
      }
    });
}
