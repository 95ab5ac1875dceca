'use strict';
// Issue 4, conformance: @temporalio/client drives the C++ worker (`kiln worker`): results,
// application failures with type and retryability, and an unknown activity type.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { ActivityExecutionFailedError, ApplicationFailure } = require('@temporalio/client');
const { useDevClusterWithKilnWorker } = require('./lib/kilnworker');
const { uniqueName, withTimeout } = require('./lib/sdk');

const taskQueue = uniqueName('wa-tq');
const env = useDevClusterWithKilnWorker({ taskQueue });

/** execute() that must fail: returns the error (or an Error saying it resolved). */
function executeExpectingFailure(type, options) {
  return withTimeout(env.client.activity.execute(type, { taskQueue, startToCloseTimeout: '10s', ...options })
    .then((v) => new Error(`execute(${type}) resolved with ${JSON.stringify(v)} instead of failing`), (e) => e),
  15000, `execute(${type}, ${options.id})`);
}

test('kiln.echo returns its input to the TS client', { timeout: 20000 }, async () => {
  const input = { greeting: 'héllo', n: 42, list: [1, 'two', null], nested: { ok: true } };
  const result = await withTimeout(env.client.activity.execute('kiln.echo', {
    id: uniqueName('wa-echo'), taskQueue, args: [input], startToCloseTimeout: '10s',
  }), 15000, 'execute(kiln.echo)');
  assert.deepEqual(result, input);
});

test('kiln.fail non-retryable fails once with its type and message as an ApplicationFailure',
  { timeout: 20000 }, async () => {
    const id = uniqueName('wa-fail-nr');
    const err = await executeExpectingFailure('kiln.fail', {
      id, args: ['PaymentDeclined', 'card declined', true],
      retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 5 },
    });
    assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
    assert.ok(err.cause instanceof ApplicationFailure,
      `expected cause ApplicationFailure, got ${err.cause && err.cause.constructor.name}: ${err.cause}`);
    assert.equal(err.cause.type, 'PaymentDeclined');
    assert.equal(err.cause.message, 'card declined');
    assert.equal(err.cause.nonRetryable, true);
    const d = await env.client.activity.getHandle(id).describe();
    assert.equal(d.status, 'FAILED');
    assert.equal(d.attempt, 1, 'a non-retryable failure must not be retried');
  });

test('kiln.fail retryable is retried per the retry policy and then fails with its type',
  { timeout: 20000 }, async () => {
    const id = uniqueName('wa-fail-r');
    const err = await executeExpectingFailure('kiln.fail', {
      id, args: ['Flaky', 'try again', false],
      retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 3 },
    });
    assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected cause ApplicationFailure, got ${err.cause}`);
    assert.equal(err.cause.type, 'Flaky');
    assert.equal(err.cause.message, 'try again');
    assert.equal(err.cause.nonRetryable, false);
    const d = await env.client.activity.getHandle(id).describe();
    assert.equal(d.status, 'FAILED');
    assert.equal(d.attempt, 3, 'maximumAttempts 3 means three attempts');
  });

test('an unknown activity type fails as a retryable NotFoundError and the worker serves the next activity',
  { timeout: 20000 }, async () => {
    const id = uniqueName('wa-unknown');
    const err = await executeExpectingFailure('no.such.activity', {
      id, args: ['x'], retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 2 },
    });
    assert.ok(err instanceof ActivityExecutionFailedError, `expected ActivityExecutionFailedError, got ${err.stack}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected cause ApplicationFailure, got ${err.cause}`);
    assert.equal(err.cause.type, 'NotFoundError');
    assert.equal(err.cause.nonRetryable, false);
    assert.match(err.cause.message, /no\.such\.activity/);
    assert.match(err.cause.message, /kiln\.echo/, 'the message lists the registered types');
    assert.equal((await env.client.activity.getHandle(id).describe()).attempt, 2,
      'NotFoundError is retryable, so the policy retried it');

    const next = await withTimeout(env.client.activity.execute('kiln.echo', {
      id: uniqueName('wa-after-unknown'), taskQueue, args: ['still serving'], startToCloseTimeout: '10s',
    }), 15000, 'execute(kiln.echo) after the unknown type');
    assert.equal(next, 'still serving');
  });
