'use strict';
// What only workflow activities have on the real Temporal server: pausing and resetting a running
// activity (PauseActivity / UnpauseActivity / ResetActivity). The server answers the Kiln worker's
// next heartbeat with activity_paused / activity_reset; the worker stops the attempt (a paused one
// fails with type ActivityPause as the SDKs do, a reset one reports cancelled), and the activity goes
// on after unpause (or at once, from attempt 1, after a reset).
const { before, test } = require('node:test');
const assert = require('node:assert/strict');
const { temporal } = require('@temporalio/proto');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, waitFor, withTimeout } = require('./lib/sdk');
const { pendingActivities, startWorkflow, useWorkflowServer, workflowSkip: skip } = require('./lib/workflows');

const { PendingActivityState } = temporal.api.enums.v1;
const env = useWorkflowServer();
const taskQueue = uniqueName('wfd-kiln');
let worker;
before(async () => {
  if (skip) return;
  await env.ready();
  worker = await startKilnWorker(env.cluster, { taskQueue, logLevel: 'info' });
  env.atStop.push(() => worker.stop());
});

const linesAbout = (activityId, text) =>
  worker.output().split('\n').filter((l) => l.includes(` ${activityId} `) && l.includes(text));
const pendingWhen = (handle, accept, what) => waitFor(async () => (await pendingActivities(handle))[0],
  (p) => p !== undefined && accept(p), { timeoutMs: 10000, what: `${what} (workflow ${handle.workflowId})` });

async function startSleep(activityId) {
  const handle = await startWorkflow(env, 'runActivity', [{
    type: 'kiln.sleep', args: ['3s'],
    options: { taskQueue, activityId, startToCloseTimeout: '30s', heartbeatTimeout: '1s',
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 5 } },
  }]);
  await pendingWhen(handle, (p) => p.heartbeatDetails, 'kiln.sleep heartbeating');
  return handle;
}

test('PauseActivity reaches the Kiln worker as activity_paused: it stops the attempt; after unpause it completes',
  { timeout: 40000, skip }, async () => {
    const activityId = uniqueName('wfd-pause');
    const handle = await startSleep(activityId);
    const ws = env.client.workflowService;
    const execution = { workflowId: handle.workflowId };
    await ws.pauseActivity({ namespace: env.cluster.namespace, execution, id: activityId, identity: 'conformance', reason: 'test' });
    await waitFor(async () => linesAbout(activityId, 'cancellation: activity paused'), (l) => l.length === 1,
      { timeoutMs: 10000, what: `kiln worker stopping paused ${activityId}` });
    const paused = await pendingWhen(handle, (p) => p.state === PendingActivityState.PENDING_ACTIVITY_STATE_PAUSED,
      'the pending activity paused');
    assert.equal(paused.paused, true);
    // The attempt ended as the SDKs end it, so the server holds it paused with that failure.
    assert.equal(paused.lastFailure && paused.lastFailure.applicationFailureInfo.type, 'ActivityPause');

    await ws.unpauseActivity({ namespace: env.cluster.namespace, execution, id: activityId, identity: 'conformance' });
    const out = await withTimeout(handle.result(), 20000, 'workflow after unpause');
    assert.equal(out.result, 3000, JSON.stringify(out));
  });

test('ResetActivity reaches the Kiln worker as activity_reset: it stops the attempt, which starts again from attempt 1',
  { timeout: 40000, skip }, async () => {
    const activityId = uniqueName('wfd-reset');
    const handle = await startSleep(activityId);
    await env.client.workflowService.resetActivity({ namespace: env.cluster.namespace,
      execution: { workflowId: handle.workflowId }, id: activityId, identity: 'conformance', resetHeartbeat: true });
    await waitFor(async () => linesAbout(activityId, 'cancellation: activity reset'), (l) => l.length === 1,
      { timeoutMs: 10000, what: `kiln worker stopping reset ${activityId}` });
    const out = await withTimeout(handle.result(), 20000, 'workflow after reset');
    assert.equal(out.result, 3000, JSON.stringify(out));
  });
