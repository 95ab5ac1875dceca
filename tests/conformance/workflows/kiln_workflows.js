'use strict';
// Workflows for the workflow-activity scenarios (wf_*.test.js): each schedules activities that a
// Kiln worker executes, on the real Temporal server. Bundled by @temporalio/worker (lib/workflows.js).
const {
  ActivityCancellationType, CancellationScope, condition, defineSignal, proxyActivities, setHandler,
} = require('@temporalio/workflow');

const cancelSignal = defineSignal('cancel');

/** What a workflow sees of an activity failure, as plain data the test can assert on. */
function summarize(err) {
  if (!err) return undefined;
  return {
    name: err.name,
    message: err.message,
    type: err.type,
    nonRetryable: err.nonRetryable,
    details: err.details,
    timeoutType: err.timeoutType,
    retryState: err.retryState,
    activityType: err.activityType,
    cause: summarize(err.cause),
  };
}

function activityOptions(options) {
  const out = { ...options };
  if (options.cancellationType) out.cancellationType = ActivityCancellationType[options.cancellationType];
  return out;
}

/**
 * Runs one activity: {type, args, options (taskQueue, timeouts, retry, cancellationType)}.
 * rethrow: the failure fails the workflow; otherwise it is returned as {failure}.
 * cancelOnSignal: the activity runs in a cancellable scope that the `cancel` signal cancels.
 */
async function runActivity({ type, args = [], options, rethrow = false, cancelOnSignal = false }) {
  const activities = proxyActivities(activityOptions(options));
  if (!cancelOnSignal) {
    try {
      return { result: await activities[type](...args) };
    } catch (err) {
      if (rethrow) throw err;
      return { failure: summarize(err) };
    }
  }
  let cancelRequested = false;
  setHandler(cancelSignal, () => { cancelRequested = true; });
  const scope = new CancellationScope();
  const running = scope.run(() => activities[type](...args));
  let settled = false;
  running.then(() => { settled = true; }, () => { settled = true; });
  await condition(() => cancelRequested || settled);
  if (!settled) scope.cancel();
  try {
    return { result: await running, cancelled: cancelRequested };
  } catch (err) {
    return { failure: summarize(err), cancelled: cancelRequested };
  }
}

/** Runs `steps` ([{type, args, options}]) one after another and returns their results. */
async function runSequence(steps) {
  const results = [];
  for (const { type, args = [], options } of steps) {
    results.push(await proxyActivities(activityOptions(options))[type](...args));
  }
  return results;
}

module.exports = { runActivity, runSequence };
