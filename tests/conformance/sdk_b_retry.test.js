'use strict';
// Issue 3, conformance (b): a failing activity is retried per its policy; the failure the client
// finally sees carries the application error type and message; a non-retryable one stops at once.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Context } = require('@temporalio/activity');
const { ActivityExecutionFailedError, ApplicationFailure } = require('@temporalio/client');
const { runWorker, uniqueName, useDevClusterWithClient } = require('./lib/sdk');

const env = useDevClusterWithClient();

// activityId -> [{attempt, at}] as observed inside the activity.
const attempts = new Map();
function recordAttempt() {
  const { activityId, attempt } = Context.current().info;
  if (!attempts.has(activityId)) attempts.set(activityId, []);
  attempts.get(activityId).push({ attempt, at: Date.now() });
  return attempt;
}

const activities = {
  async alwaysFails() {
    const attempt = recordAttempt();
    throw ApplicationFailure.create({ type: 'FlakyBackend', message: `backend down on attempt ${attempt}` });
  },
  async failsNonRetryable() {
    recordAttempt();
    throw ApplicationFailure.create({ type: 'BadRequest', message: 'input rejected', nonRetryable: true });
  },
  async failsWithPolicyNonRetryableType() {
    recordAttempt();
    throw ApplicationFailure.create({ type: 'QuotaExceeded', message: 'quota exceeded' });
  },
};

async function executeExpectingFailure(activityType, options) {
  const taskQueue = uniqueName('b-tq');
  const id = uniqueName(`b-${activityType}`);
  const err = await runWorker(env.cluster, { taskQueue, activities }, async () => {
    try {
      await env.client.activity.execute(activityType, { id, taskQueue, startToCloseTimeout: '10s', ...options });
    } catch (e) {
      return e;
    }
    throw new Error(`${activityType} unexpectedly succeeded`);
  });
  return { id, err, seen: attempts.get(id) || [] };
}

function assertApplicationFailure(err, type, message) {
  assert.ok(err instanceof ActivityExecutionFailedError,
    `expected ActivityExecutionFailedError, got ${err && err.stack}`);
  assert.ok(err.cause instanceof ApplicationFailure,
    `expected cause ApplicationFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);
  assert.equal(err.cause.type, type);
  assert.equal(err.cause.message, message);
}

test('(b) a failing activity is retried per its policy and the client sees the last application failure',
  { timeout: 30000 }, async () => {
    const { id, err, seen } = await executeExpectingFailure('alwaysFails', {
      retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumAttempts: 3 },
    });

    assert.deepEqual(seen.map((s) => s.attempt), [1, 2, 3], 'attempt numbers seen by the activity');
    // Backoff per the policy: at least 100 ms before attempt 2 and 200 ms before attempt 3
    // (lower bounds only, minus 10 ms for clock granularity).
    assert.ok(seen[1].at - seen[0].at >= 90, `retry 1 came after ${seen[1].at - seen[0].at} ms, policy 100 ms`);
    assert.ok(seen[2].at - seen[1].at >= 190, `retry 2 came after ${seen[2].at - seen[1].at} ms, policy 200 ms`);
    assertApplicationFailure(err, 'FlakyBackend', 'backend down on attempt 3');
    assert.equal(err.activityId, id);

    const description = await env.client.activity.getHandle(id).describe();
    assert.equal(description.status, 'FAILED');
    assert.equal(description.attempt, 3);
  });

test('(b) an ApplicationFailure marked nonRetryable stops after one attempt',
  { timeout: 30000 }, async () => {
    const { id, err, seen } = await executeExpectingFailure('failsNonRetryable', {
      retry: { initialInterval: '100ms', maximumAttempts: 5 },
    });

    assert.deepEqual(seen.map((s) => s.attempt), [1]);
    assertApplicationFailure(err, 'BadRequest', 'input rejected');
    assert.equal(err.cause.nonRetryable, true);
    const description = await env.client.activity.getHandle(id).describe();
    assert.equal(description.status, 'FAILED');
  });

test('(b) an error type listed in the retry policy as non-retryable stops after one attempt',
  { timeout: 30000 }, async () => {
    const { err, seen } = await executeExpectingFailure('failsWithPolicyNonRetryableType', {
      retry: { initialInterval: '100ms', maximumAttempts: 5, nonRetryableErrorTypes: ['QuotaExceeded'] },
    });

    assert.deepEqual(seen.map((s) => s.attempt), [1]);
    assertApplicationFailure(err, 'QuotaExceeded', 'quota exceeded');
  });
