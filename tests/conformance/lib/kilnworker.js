'use strict';
// Starts the C++ worker (`kiln worker`, serving kiln.echo, kiln.sleep and kiln.fail) as a child
// process against the server under test (lib/server.js), and stops it again by its pid.
//
// Contract with the worker: once it polls, `kiln worker` prints one stdout line
// `kiln worker polling <queues> namespace=<ns> identity=<id>`; SIGTERM/SIGINT shut it down
// gracefully (running activities finish within --graceful-shutdown-timeout) and it exits 0.
//
// Usage (node:test):
//   const worker = await startKilnWorker(cluster, { taskQueue });
//   try { ... client.activity.execute('kiln.echo', { taskQueue, ... }) ... }
//   finally { await worker.stop(); }
//
// A worker still running when the test process exits is killed with SIGKILL, so none outlives
// its test file.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { after, before } = require('node:test');
const { kilnBinary } = require('./devcluster');
const { startServer } = require('./server');
const { connectClient, uniqueName } = require('./sdk');

const READY_LINE = /^(?:kiln|peer) worker polling (\S+) namespace=(\S+) identity=(\S+)/;
const MAX_OUTPUT_CHARS = 8000;

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Starts `kiln worker --address <cluster.address> --namespace <ns> --task-queue <q>` and waits for
 * its polling line.
 * @param {{address: string, namespace: string}} cluster
 * @param {{taskQueue: string, extraArgs?: string[], startTimeoutMs?: number, logLevel?: string}} options
 * @returns {Promise<{pid: number, identity: string, output: () => string,
 *   exited: Promise<{code: number|null, signal: string|null}>,
 *   signal: (name: string) => void,
 *   stop: (options?: {signal?: string|null, timeoutMs?: number}) => Promise<{code: number|null, signal: string|null}>}>}
 */
async function startKilnWorker(cluster, { taskQueue, extraArgs = [], startTimeoutMs = 15000,
  logLevel = 'warn' } = {}) {
  const bin = kilnBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(`kiln binary not found at ${bin}: build it (cmake --build build --target kiln) ` +
      'or point KILN_BIN at a built one');
  }
  const args = ['worker', '--address', cluster.address, '--namespace', cluster.namespace,
    '--task-queue', taskQueue, '--log-level', logLevel, ...extraArgs];
  return startWorkerProcess(bin, args, { startTimeoutMs });
}

/**
 * Starts any worker process that prints `<kiln|peer> worker polling <queues> namespace=<ns>
 * identity=<id>` once it polls and stops gracefully on SIGTERM (`kiln worker`, bench/peers/*);
 * same result as startKilnWorker.
 */
async function startWorkerProcess(bin, args, { startTimeoutMs = 15000 } = {}) {
  const describeCommand = `${bin} ${args.join(' ')}`;
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk) => { output = (output + chunk).slice(-MAX_OUTPUT_CHARS); };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  const alive = () => child.exitCode === null && child.signalCode === null;
  const signal = (name) => {
    if (alive()) {
      try { process.kill(child.pid, name); } catch { /* already gone */ }
    }
  };
  // Sends `signal` (SIGTERM: graceful; null: none, it is already stopping) and waits up to
  // timeoutMs for the exit; then SIGKILL and an error that shows the worker's output.
  const stop = async ({ signal: name = 'SIGTERM', timeoutMs = 15000 } = {}) => {
    if (name) signal(name);
    let timer;
    const gone = await Promise.race([exited, new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs, null);
    })]);
    clearTimeout(timer);
    if (gone === null) {
      signal('SIGKILL');
      await exited;
      throw new Error(`worker ${path.basename(bin)} (pid ${child.pid}) did not exit within ${timeoutMs} ms of ` +
        `${name} and was killed; output:\n${output}`);
    }
    return gone;
  };

  const ready = new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      keep(`${line}\n`);
      const m = line.match(READY_LINE);
      if (m) resolve({ identity: m[3] });
    });
    child.once('error', (err) => reject(new Error(`could not run ${describeCommand}: ${err.message}`)));
    exited.then(({ code, signal: sig }) => reject(new Error(
      `${describeCommand} exited (code ${code}, signal ${sig}) before printing ` +
      `"... worker polling ..."; output:\n${output}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(
      `${describeCommand} did not print "... worker polling ..." within ${startTimeoutMs} ms; ` +
      `output:\n${output}`)), startTimeoutMs);
  });
  try {
    const info = await Promise.race([ready, timeout]);
    return { ...info, pid: child.pid, output: () => output, exited, signal, stop };
  } catch (err) {
    signal('SIGKILL');
    await exited;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs fn(worker) with a `kiln worker` on taskQueue, stopping it (SIGTERM) afterwards. */
async function withKilnWorker(cluster, options, fn) {
  const worker = await startKilnWorker(cluster, options);
  let outcome;
  try {
    outcome = { value: await fn(worker) };
  } catch (error) {
    outcome = { error };
  }
  try {
    await worker.stop();
  } catch (err) {
    if (!outcome.error) throw err;
    outcome.error.message += `\n(and then: ${err.message})`;
  }
  if (outcome.error) {
    outcome.error.message += `\n--- kiln worker output ---\n${worker.output()}`;
    throw outcome.error;
  }
  return outcome.value;
}

/**
 * Registers node:test before/after hooks for this file: one server (lib/server.js), one @temporalio/client
 * Client and one `kiln worker` on env.taskQueue for all its tests, all stopped at the end (also
 * when a test fails). Fields are filled in by `before`:
 *   const env = useDevClusterWithKilnWorker();  test('...', () => env.client.activity.execute(...));
 */
function useDevClusterWithKilnWorker({ taskQueue, workerArgs = [], clusterArgs = [] } = {}) {
  const env = { cluster: undefined, client: undefined, worker: undefined,
    taskQueue: taskQueue || uniqueName('kw-tq') };
  let closeClient;
  before(async () => {
    env.cluster = await startServer({ kilnDevArgs: clusterArgs });
    const connected = await connectClient(env.cluster);
    env.client = connected.client;
    closeClient = connected.close;
    env.worker = await startKilnWorker(env.cluster, { taskQueue: env.taskQueue, extraArgs: workerArgs });
  });
  after(async () => {
    try {
      if (env.worker) await env.worker.stop();
    } finally {
      if (closeClient) await closeClient().catch(() => {});
      if (env.cluster) await env.cluster.stop();
    }
  });
  return env;
}

module.exports = { startKilnWorker, startWorkerProcess, useDevClusterWithKilnWorker, withKilnWorker };
