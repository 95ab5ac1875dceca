'use strict';
// Workflow activities on the real Temporal server: a TypeScript workflow worker (the workflows in
// ../workflows/, bundled once and cached by content) schedules activities that `kiln worker`
// executes; helpers read what the server recorded (history events, pending activities).
//
// Usage (node:test, real server only):
//   const env = useWorkflowServer();   // env.cluster, env.client, env.workflowQueue
//   const out = await runWorkflow(env, 'runActivity', [{ type: 'kiln.echo', args: [1], options }]);
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before } = require('node:test');
const { defaultPayloadConverter } = require('@temporalio/client');
const { temporal } = require('@temporalio/proto');
const { NativeConnection, Worker, bundleWorkflowCode } = require('@temporalio/worker');
const { onTemporal, startServer } = require('./server');
const { connectClient, installRuntime, uniqueName, withTimeout } = require('./sdk');

const WORKFLOWS = path.resolve(__dirname, '../workflows/kiln_workflows.js');
const { EventType } = temporal.api.enums.v1;

/** The bundled workflow code, built once per workflow source and SDK version, cached in tmpdir. */
async function workflowBundle() {
  const sdkVersion = require('@temporalio/worker/package.json').version;
  const hash = crypto.createHash('sha256').update(fs.readFileSync(WORKFLOWS)).update(sdkVersion)
    .digest('hex').slice(0, 16);
  const cached = path.join(os.tmpdir(), `kiln-conformance-workflows-${hash}.js`);
  if (fs.existsSync(cached)) return { code: fs.readFileSync(cached, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: quietLogger });
  const partial = `${cached}.${process.pid}`;
  fs.writeFileSync(partial, code);
  fs.renameSync(partial, cached);
  return { code };
}

const quietLogger = {
  log() {}, trace() {}, debug() {}, info() {}, warn(m) { console.error(`[bundler] ${m}`); },
  error(m) { console.error(`[bundler] ${m}`); },
};

/** Starts a workflow-only TS worker on `taskQueue`; stop() shuts it down (bounded). */
async function startWorkflowWorker(cluster, { taskQueue }) {
  installRuntime();
  const connection = await withTimeout(NativeConnection.connect({ address: cluster.address }), 15000,
    `workflow worker NativeConnection.connect to ${cluster.address}`);
  const worker = await withTimeout(Worker.create({
    connection, namespace: cluster.namespace, taskQueue, workflowBundle: await workflowBundle(),
  }), 30000, `workflow Worker.create on ${taskQueue}`);
  const running = worker.run();
  running.catch((err) => console.error(`workflow worker on ${taskQueue} failed: ${err.stack || err}`));
  return {
    stop: async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await withTimeout(running.catch(() => {}), 15000, `workflow worker on ${taskQueue}: shutdown`);
      await withTimeout(connection.close(), 5000, 'workflow worker connection close').catch(() => {});
    },
  };
}

/**
 * node:test hooks for a file of workflow scenarios: one real server, one client and one workflow
 * worker (on env.workflowQueue) for all its tests. Against kiln dev (no workflows) it starts
 * nothing; the tests skip themselves with `skip: workflowSkip`.
 */
function useWorkflowServer() {
  // atStop: functions the file registers to stop its own processes before the server stops.
  const env = { cluster: undefined, client: undefined, workflowQueue: uniqueName('wf-tq'), atStop: [] };
  let closeClient;
  let workflowWorker;
  // `ready()` lets a file's own before hook wait for this one: node does not order them.
  let settle;
  const started = new Promise((resolve, reject) => { settle = { resolve, reject }; });
  started.catch(() => {});
  env.ready = () => started;
  before(async () => {
    if (!onTemporal()) return settle.resolve();
    try {
      env.cluster = await startServer();
      const connected = await connectClient(env.cluster);
      env.client = connected.client;
      closeClient = connected.close;
      workflowWorker = await startWorkflowWorker(env.cluster, { taskQueue: env.workflowQueue });
      settle.resolve();
    } catch (err) {
      settle.reject(err);
      throw err;
    }
  });
  after(async () => {
    try {
      // The file's own processes first (Kiln workers), while the server still answers them.
      for (const stop of env.atStop.reverse()) await stop();
    } finally {
      await stopServer();
    }
  });
  const stopServer = async () => {
    try {
      if (workflowWorker) await workflowWorker.stop();
    } finally {
      if (closeClient) await closeClient().catch(() => {});
      if (env.cluster) await env.cluster.stop();
    }
  };
  return env;
}

/** The skip reason for workflow scenarios on a server without workflows, else false. */
const workflowSkip = onTemporal() ? false : 'workflow activities need the real Temporal server (run --server temporal)';

/** Starts workflow `name` with `args` on env.workflowQueue; returns its handle. */
function startWorkflow(env, name, args, options = {}) {
  return env.client.workflow.start(name, {
    taskQueue: env.workflowQueue, workflowId: uniqueName(`wf-${name}`), args, ...options,
  });
}

/** Runs workflow `name` to its result (or rejects with its failure), bounded by timeoutMs. */
async function runWorkflow(env, name, args, { timeoutMs = 20000, ...options } = {}) {
  const handle = await startWorkflow(env, name, args, options);
  return withTimeout(handle.result(), timeoutMs, `workflow ${name} ${handle.workflowId}`);
}

/** The workflow's history as [{type: 'ACTIVITY_TASK_STARTED', time: ms, attributes}]. */
async function historyEvents(handle) {
  const history = await handle.fetchHistory();
  return history.events.map((e) => {
    const type = EventType[e.eventType].replace(/^EVENT_TYPE_/, '');
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k]);
    const seconds = Number(e.eventTime.seconds);
    return { type, time: seconds * 1000 + Math.floor((e.eventTime.nanos || 0) / 1e6), attributes: key ? e[key] : {} };
  });
}

/** The workflow's pending activities as the server describes them (raw protos). */
async function pendingActivities(handle) {
  const described = await handle.describe();
  return described.raw.pendingActivities || [];
}

/** Decodes a Payloads proto ({payloads: [...]}) to values. */
function decodePayloads(payloads) {
  return ((payloads && payloads.payloads) || []).map((p) => defaultPayloadConverter.fromPayload(p));
}

module.exports = {
  decodePayloads, historyEvents, pendingActivities, runWorkflow, startWorkflow, startWorkflowWorker,
  useWorkflowServer, workflowBundle, workflowSkip,
};
