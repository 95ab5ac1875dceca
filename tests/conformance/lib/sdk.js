'use strict';
// The real Temporal TypeScript SDK (pinned in package-lock.json) pointed at the server under test
// (`kiln dev` or the real Temporal dev server, lib/server.js):
// a client, an activity-only worker (plain JS activities, no workflows, no bundling), and bounded
// waits so that every step of a test fails with a message instead of hanging.
//
// Usage:
//   const cluster = await startDevCluster();
//   const { client, close } = await connectClient(cluster);
//   const result = await runWorker(cluster, { taskQueue, activities: { greet } },
//       () => client.activity.execute('greet', { id, taskQueue, args: ['x'], startToCloseTimeout: '10s' }));
//   await close();
const crypto = require('node:crypto');
const { after, before } = require('node:test');
const { Client, Connection } = require('@temporalio/client');
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const { serverKind, startServer } = require('./server');

let runtimeInstalled = false;
function installRuntime() {
  if (runtimeInstalled) return;
  // WARN keeps the SDK's own complaints about the server (failed responds, heartbeats) visible;
  // the warnings these tests cause on purpose are left out.
  const expected = new Set(['Activity failed', 'No workflows registered, not polling for workflow tasks',
    'No activities registered, not polling for activity tasks']);
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (expected.has(entry.message)) return;
      console.error(`[sdk ${entry.level}] ${entry.message}`, entry.meta || '');
    }),
  });
  runtimeInstalled = true;
}

/** Unique name for ids and task queues, so tests never see each other's executions. */
function uniqueName(prefix) {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Rejects with `what timed out after ms` unless `promise` settles first. */
async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Calls `probe` every intervalMs until it returns a value `accept` likes; returns that value.
 * Fails after timeoutMs naming `what` and the last value (or error) seen.
 */
async function waitFor(probe, accept, { timeoutMs = 10000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await withTimeout(probe(), Math.max(deadline - Date.now(), 1), what);
      if (accept(last)) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const seen = last instanceof Error ? `error ${last.stack || last}` : JSON.stringify(last);
      throw new Error(`${what}: not reached within ${timeoutMs} ms; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A @temporalio/client Client on the cluster's namespace. */
async function connectClient(cluster) {
  const connection = await withTimeout(Connection.connect({ address: cluster.address }), 15000,
    `client Connection.connect to ${cluster.address}`).catch((err) => {
    throw new Error(`@temporalio/client could not connect to ${serverKind()} at ${cluster.address} ` +
      `(GetSystemInfo): ${err.message}`, { cause: err });
  });
  const client = new Client({ connection, namespace: cluster.namespace });
  return { client, close: () => withTimeout(connection.close(), 5000, 'client connection close') };
}

/**
 * Runs an activity-only SDK Worker on `taskQueue` while `fn` runs; returns fn's result.
 * The worker is shut down afterwards (bounded to 15 s), also when fn throws. A worker that fails or
 * stops while fn runs rejects with the worker's error.
 */
async function runWorker(cluster, { taskQueue, activities, ...workerOptions }, fn) {
  installRuntime();
  const connection = await withTimeout(NativeConnection.connect({ address: cluster.address }), 15000,
    `worker NativeConnection.connect to ${cluster.address}`).catch((err) => {
    throw new Error(`@temporalio/worker could not connect to ${serverKind()} at ${cluster.address} ` +
      `(GetSystemInfo must succeed): ${err.message}`, { cause: err });
  });
  try {
    const worker = await withTimeout(Worker.create({
      connection, namespace: cluster.namespace, taskQueue, activities, ...workerOptions,
    }), 15000, `Worker.create on task queue ${taskQueue}`);
    const running = worker.run();
    running.catch(() => {}); // observed below; avoid an unhandled rejection while fn runs
    const stoppedEarly = running.then(() => {
      throw new Error(`worker on ${taskQueue} stopped (state ${worker.getState()}) before the test finished`);
    });
    let outcome;
    try {
      outcome = { value: await Promise.race([fn(), stoppedEarly]) };
    } catch (error) {
      outcome = { error };
    }
    if (worker.getState() === 'RUNNING') worker.shutdown();
    try {
      await withTimeout(running, 15000, `worker on ${taskQueue}: shutdown (state ${worker.getState()})`);
    } catch (err) {
      if (!outcome.error) throw err;
      if (err !== outcome.error) outcome.error.message += `\n(and then: ${err.message})`;
    }
    if (outcome.error) throw outcome.error;
    return outcome.value;
  } finally {
    await withTimeout(connection.close(), 5000, 'worker NativeConnection.close').catch(() => {});
  }
}

/**
 * Registers node:test before/after hooks for this file: one server (lib/server.js: `kiln dev` or
 * the real Temporal dev server) and one client for all its
 * tests, both stopped at the end (also when a test fails). Fields are filled in by `before`:
 *   const env = useDevClusterWithClient();  test('...', async () => env.client.activity.start(...));
 * `serverOptions` goes to startServer (e.g. { temporalArgs: [...] } for the real server).
 */
function useDevClusterWithClient(serverOptions = undefined) {
  const env = { cluster: undefined, client: undefined, closeClient: undefined };
  before(async () => {
    env.cluster = await startServer(serverOptions);
    const { client, close } = await connectClient(env.cluster);
    env.client = client;
    env.closeClient = close;
  });
  after(async () => {
    if (env.closeClient) await env.closeClient().catch(() => {});
    if (env.cluster) await env.cluster.stop();
  });
  return env;
}

module.exports = {
  connectClient, installRuntime, runWorker, useDevClusterWithClient, uniqueName, waitFor, withTimeout,
};
