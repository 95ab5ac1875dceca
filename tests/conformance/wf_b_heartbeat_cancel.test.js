'use strict';
// Workflow activities on the real Temporal server, executed by the C++ worker: heartbeat details,
// cancellation from the workflow with each ActivityCancellationType, the workflow closing while
// the activity runs, the heartbeat timeout, SIGKILL of a worker and the retry on another worker,
// graceful shutdown.
//
// kiln.sleep(duration) heartbeats {"progress": {"current": ms slept so far, ...}}, resumes from the
// previous attempt's heartbeat details and returns the total slept.
const { before, test } = require('node:test');
const assert = require('node:assert/strict');
const { temporal } = require('@temporalio/proto');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, waitFor, withTimeout } = require('./lib/sdk');
const {
  decodePayloads, historyEvents, pendingActivities, startWorkflow, useWorkflowServer, workflowSkip: skip,
} = require('./lib/workflows');

const { TimeoutType } = temporal.api.enums.v1;
const env = useWorkflowServer();
const taskQueue = uniqueName('wfb-kiln');
let worker; // logs at info, so its one line per dropped report can be counted
before(async () => {
  if (skip) return;
  await env.ready();
  worker = await startKilnWorker(env.cluster, { taskQueue, logLevel: 'info' });
  env.atStop.push(() => worker.stop());
});

const sleptMs = (details) => (details && details.progress ? details.progress.current : details);

/** The workflow's one pending activity once it matches `accept`. */
function pendingWhen(handle, accept, what, timeoutMs = 10000) {
  return waitFor(async () => (await pendingActivities(handle))[0], (p) => p !== undefined && accept(p),
    { timeoutMs, intervalMs: 100, what: `${what} (workflow ${handle.workflowId})` });
}
const heartbeatOf = (pending) => sleptMs(decodePayloads(pending.heartbeatDetails)[0]);
const isCancellation = (f) => f && (f.name === 'CancelledFailure' || (f.cause && f.cause.name === 'CancelledFailure'));
const linesAbout = (output, activityId, text) =>
  output.split('\n').filter((l) => l.includes(` ${activityId} `) && l.includes(text));

function sleepSpec(activityId, duration, options = {}, extra = {}) {
  return {
    type: 'kiln.sleep', args: [duration], ...extra,
    options: { taskQueue, activityId, startToCloseTimeout: '30s', heartbeatTimeout: '1s',
      retry: { maximumAttempts: 1 }, ...options },
  };
}

test('heartbeat details reach the workflow\'s pending activity; WAIT_CANCELLATION_COMPLETED waits for Kiln\'s cancel',
  { timeout: 30000, skip }, async () => {
    const activityId = uniqueName('wfb-wait');
    const handle = await startWorkflow(env, 'runActivity',
      [sleepSpec(activityId, '20s', { cancellationType: 'WAIT_CANCELLATION_COMPLETED' }, { cancelOnSignal: true })]);
    const running = await pendingWhen(handle, (p) => p.heartbeatDetails, 'a heartbeat from kiln.sleep');
    assert.equal(running.lastWorkerIdentity, worker.identity);
    const slept = heartbeatOf(running);
    assert.ok(Number.isInteger(slept) && slept >= 0 && slept < 20000, `heartbeat details: ${JSON.stringify(slept)}`);

    await handle.signal('cancel');
    const out = await withTimeout(handle.result(), 15000, 'workflow after cancel');
    assert.ok(isCancellation(out.failure), `expected a cancellation, got ${JSON.stringify(out)}`);
    const types = (await historyEvents(handle)).map((e) => e.type);
    const canceled = types.indexOf('ACTIVITY_TASK_CANCELED');
    assert.ok(types.indexOf('ACTIVITY_TASK_CANCEL_REQUESTED') >= 0, types.join(' '));
    assert.ok(canceled >= 0, `the Kiln worker's RespondActivityTaskCanceled is in the history: ${types.join(' ')}`);
    assert.ok(canceled < types.indexOf('WORKFLOW_EXECUTION_COMPLETED'), 'the workflow waited for it');
  });

test('TRY_CANCEL: the workflow goes on at once and the cancel still reaches the Kiln activity',
  { timeout: 30000, skip }, async () => {
    const activityId = uniqueName('wfb-try');
    const handle = await startWorkflow(env, 'runActivity',
      [sleepSpec(activityId, '20s', { cancellationType: 'TRY_CANCEL' }, { cancelOnSignal: true })]);
    await pendingWhen(handle, (p) => p.heartbeatDetails, 'a heartbeat from kiln.sleep');
    await handle.signal('cancel');
    const out = await withTimeout(handle.result(), 15000, 'workflow after cancel');
    assert.ok(isCancellation(out.failure), `expected a cancellation, got ${JSON.stringify(out)}`);
    const types = (await historyEvents(handle)).map((e) => e.type);
    assert.ok(types.includes('ACTIVITY_TASK_CANCEL_REQUESTED'), types.join(' '));
    // The workflow may close before the activity's next heartbeat: then the heartbeat answers
    // NotFound instead of cancel_requested. Either way the Kiln activity stops, once, well before its 20 s.
    const stopped = await waitFor(async () => linesAbout(worker.output(), activityId, 'cancellation: '),
      (l) => l.length >= 1, { timeoutMs: 10000, what: `kiln worker stopping ${activityId} after the cancel` });
    assert.equal(stopped.length, 1, stopped.join('\n'));
    assert.match(stopped[0], /cancellation: (cancel requested|task not found on the server)/, stopped[0]);
  });

test('ABANDON: the workflow completes without a cancel request; the activity runs on and its late report is dropped',
  { timeout: 30000, skip }, async () => {
    const activityId = uniqueName('wfb-abandon');
    const handle = await startWorkflow(env, 'runActivity',
      [sleepSpec(activityId, '3s', { cancellationType: 'ABANDON' }, { cancelOnSignal: true })]);
    await pendingWhen(handle, (p) => p.heartbeatDetails, 'a heartbeat from kiln.sleep');
    await handle.signal('cancel');
    const out = await withTimeout(handle.result(), 15000, 'workflow after cancel');
    assert.ok(isCancellation(out.failure), `expected a cancellation, got ${JSON.stringify(out)}`);
    const types = (await historyEvents(handle)).map((e) => e.type);
    assert.ok(!types.includes('ACTIVITY_TASK_CANCEL_REQUESTED'), `ABANDON sends no cancel: ${types.join(' ')}`);
    // The workflow is closed; the Kiln activity learns it from its next heartbeat or its completion
    // (NotFound), and says so in one line instead of failing or retrying.
    const dropped = await waitFor(async () => linesAbout(worker.output(), activityId, 'attempt 1]'),
      (l) => l.some((line) => /server reported the task gone|not recorded: the server no longer has this task/.test(line)),
      { timeoutMs: 10000, what: `kiln worker dropping the report of abandoned ${activityId}` });
    assert.equal(dropped.filter((l) => /error|lost/i.test(l)).length, 0, dropped.join('\n'));
  });

test('the workflow times out while the activity runs: the completion gets NotFound, one log line, no crash',
  { timeout: 30000, skip }, async () => {
    const activityId = uniqueName('wfb-wftimeout');
    // No heartbeat timeout, so the worker hears nothing from the server until it completes.
    const handle = await startWorkflow(env, 'runActivity',
      [sleepSpec(activityId, '3s', { heartbeatTimeout: undefined })], { workflowExecutionTimeout: '1500ms' });
    const err = await withTimeout(handle.result().then(() => null, (e) => e), 15000, 'workflow timing out');
    assert.ok(err && /timed out/i.test(`${err.message} ${err.cause && err.cause.message}`), `got ${err && err.stack}`);
    const lines = await waitFor(async () => linesAbout(worker.output(), activityId, 'not recorded'),
      (l) => l.length >= 1, { timeoutMs: 10000, what: `kiln worker reporting ${activityId} after the workflow closed` });
    assert.equal(lines.length, 1, `one line per dropped report:\n${lines.join('\n')}`);
    assert.match(lines[0], /completion|completed/i, lines[0]);
    assert.match(lines[0], /NOT_FOUND|not found/i, lines[0]);
    // Still serving.
    const next = await startWorkflow(env, 'runActivity', [{ type: 'kiln.echo', args: ['alive'],
      options: { taskQueue, startToCloseTimeout: '10s' } }]);
    assert.deepEqual(await withTimeout(next.result(), 15000, 'echo after the dropped completion'), { result: 'alive' });
  });

test('SIGKILL mid-activity: the heartbeat timeout retries it on another Kiln worker, which resumes from the last details',
  { timeout: 60000, skip }, async () => {
    const queue = uniqueName('wfb-kill');
    const activityId = uniqueName('wfb-kill');
    const first = await startKilnWorker(env.cluster, { taskQueue: queue });
    let handle;
    try {
      handle = await startWorkflow(env, 'runActivity', [sleepSpec(activityId, '5s',
        { taskQueue: queue, retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 } })]);
      await pendingWhen(handle, (p) => p.heartbeatDetails && heartbeatOf(p) >= 2000,
        'attempt 1 heartbeating 2000 ms of progress', 15000);
    } finally {
      await first.stop({ signal: 'SIGKILL' });
    }
    const retrying = await pendingWhen(handle, (p) => p.attempt === 2, 'the heartbeat timeout of attempt 1');
    assert.equal(retrying.lastFailure.timeoutFailureInfo.timeoutType, TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
      JSON.stringify(retrying.lastFailure));
    const lastOfAttempt1 = heartbeatOf(retrying);
    assert.ok(lastOfAttempt1 >= 2000, `last details of attempt 1: ${lastOfAttempt1}`);

    const second = await startKilnWorker(env.cluster, { taskQueue: queue });
    try {
      const out = await withTimeout(handle.result(), 20000, 'workflow after the retry');
      assert.ok(out.result >= 5000 && out.result < 6000, `total slept over both attempts: ${JSON.stringify(out)}`);
      const started = (await historyEvents(handle)).find((e) => e.type === 'ACTIVITY_TASK_STARTED');
      assert.equal(started.attributes.attempt, 2);
      assert.equal(started.attributes.identity, second.identity, 'attempt 2 ran on the second worker');
    } finally {
      await second.stop();
    }
  });

test('a HEARTBEAT timeout with no retries left reaches the workflow as a TimeoutFailure of that type',
  { timeout: 30000, skip }, async () => {
    const queue = uniqueName('wfb-hb');
    const activityId = uniqueName('wfb-hb');
    const doomed = await startKilnWorker(env.cluster, { taskQueue: queue });
    let handle;
    try {
      handle = await startWorkflow(env, 'runActivity', [sleepSpec(activityId, '20s', { taskQueue: queue })]);
      await pendingWhen(handle, (p) => p.heartbeatDetails, 'a heartbeat from kiln.sleep');
    } finally {
      await doomed.stop({ signal: 'SIGKILL' });
    }
    const out = await withTimeout(handle.result(), 15000, 'workflow after the heartbeat timeout');
    const cause = out.failure && out.failure.cause;
    assert.equal(cause && cause.name, 'TimeoutFailure', JSON.stringify(out));
    assert.equal(cause.timeoutType, 'HEARTBEAT', JSON.stringify(out));
  });

test('SIGTERM mid-activity lets the workflow\'s kiln.sleep finish on that worker, which then exits 0',
  { timeout: 30000, skip }, async () => {
    const queue = uniqueName('wfb-term');
    const activityId = uniqueName('wfb-term');
    const draining = await startKilnWorker(env.cluster, { taskQueue: queue, extraArgs: ['--graceful-shutdown-timeout', '20s'] });
    let exit;
    try {
      const handle = await startWorkflow(env, 'runActivity',
        [sleepSpec(activityId, '3s', { taskQueue: queue, heartbeatTimeout: '10s' })]);
      await pendingWhen(handle, (p) => p.heartbeatDetails, 'kiln.sleep running');
      draining.signal('SIGTERM');
      const out = await withTimeout(handle.result(), 15000, 'workflow after SIGTERM');
      assert.deepEqual(out, { result: 3000 });
      exit = await draining.stop({ signal: null, timeoutMs: 10000 });
      const started = (await historyEvents(handle)).find((e) => e.type === 'ACTIVITY_TASK_STARTED');
      assert.equal(started.attributes.attempt, 1, 'completed by the attempt running at SIGTERM');
      assert.equal(started.attributes.identity, draining.identity);
    } finally {
      if (!exit) await draining.stop({ signal: 'SIGKILL' });
    }
    assert.deepEqual(exit, { code: 0, signal: null }, `worker output:\n${draining.output()}`);
  });
