'use strict';
// Issue 4, conformance: SIGTERM to the C++ worker while an activity runs is a graceful shutdown:
// the activity finishes, its result reaches the client, and the worker exits 0.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

test('SIGTERM mid-activity lets kiln.sleep finish and deliver its result, then the worker exits 0',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('wc-tq');
    const id = uniqueName('wc-shutdown');
    const worker = await startKilnWorker(env.cluster, { taskQueue, extraArgs: ['--graceful-shutdown-timeout', '20s'] });
    let exit;
    try {
      const handle = await env.client.activity.start('kiln.sleep', {
        id, taskQueue, args: ['3s'], startToCloseTimeout: '30s', heartbeatTimeout: '10s',
        retry: { maximumAttempts: 1 },
      });
      await waitFor(() => handle.describe({ includeHeartbeatDetails: true }), (d) => d.hasHeartbeatDetails,
        { timeoutMs: 10000, what: `kiln.sleep ${id} running on the worker` });

      worker.signal('SIGTERM');
      const result = await withTimeout(handle.result(), 15000, `result() of ${id} after SIGTERM`);
      assert.equal(result, 3000, 'the activity ran to its end');
      exit = await worker.stop({ signal: null, timeoutMs: 10000 });
      const done = await handle.describe();
      assert.equal(done.status, 'COMPLETED');
      assert.equal(done.attempt, 1, 'completed by the attempt that was running at SIGTERM');
    } finally {
      if (!exit) await worker.stop({ signal: 'SIGKILL' });
    }
    assert.deepEqual(exit, { code: 0, signal: null }, `worker output:\n${worker.output()}`);
  });
