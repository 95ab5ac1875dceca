'use strict';
// Starts a `kiln dev` cluster for one test file and stops it again.
//
// Contract with the server: `kiln dev --port 0 --db :memory: --log-level warn` prints exactly one
// stdout line `kiln dev listening on 127.0.0.1:<port> namespace=<ns> db=<path>` once it serves, and
// stops on SIGTERM.
//
// Usage (node:test):
//   const { startDevCluster } = require('./lib/devcluster');
//   let cluster;
//   before(async () => { cluster = await startDevCluster(); });   // cluster.address, cluster.namespace
//   after(() => cluster?.stop());
//
// The process is killed by its pid in stop(), and with SIGKILL when the test process exits without
// calling stop() (a crash, a failed before hook), so no server outlives its test file.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const READY_LINE = /^kiln dev listening on (\S+) namespace=(\S+) db=(.*)$/;
const DEFAULT_BIN = path.resolve(__dirname, '../../../build/bin/kiln');
const MAX_STDERR_CHARS = 8000;

/** Path of the kiln binary under test: $KILN_BIN, else build/bin/kiln of this checkout. */
function kilnBinary() {
  return process.env.KILN_BIN || DEFAULT_BIN;
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

/**
 * Starts `kiln dev` on a free loopback port with an in-memory database (or the SQLite file `db`).
 * @param {{startTimeoutMs?: number, extraArgs?: string[], db?: string}} [options]
 * @returns {Promise<{address: string, namespace: string, db: string, pid: number,
 *                    stderr: () => string, stop: () => Promise<void>}>}
 */
async function startDevCluster({ startTimeoutMs = 15000, extraArgs = [], db = ':memory:' } = {}) {
  const bin = kilnBinary();
  if (!fs.existsSync(bin)) {
    throw new Error(`kiln binary not found at ${bin}: build it (cmake --build build --target kiln) ` +
      'or point KILN_BIN at a built one');
  }
  const args = ['dev', '--port', '0', '--db', db, '--log-level', 'warn', ...extraArgs];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS);
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const describeCommand = `${bin} ${args.join(' ')}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
      let timer;
      const gone = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 5000, null); })]);
      clearTimeout(timer);
      if (gone === null) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
        await exited;
        throw new Error(`kiln dev (pid ${child.pid}) ignored SIGTERM for 5 s and was killed; ` +
          `stderr:\n${stderr}`);
      }
    }
  };

  const ready = new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = line.match(READY_LINE);
      if (m) resolve({ address: m[1], namespace: m[2], db: m[3] });
    });
    child.once('error', (err) => reject(new Error(`could not run ${describeCommand}: ${err.message}`)));
    exited.then(({ code, signal }) => reject(new Error(
      `${describeCommand} exited (code ${code}, signal ${signal}) before printing ` +
      `"kiln dev listening on ..."; stderr:\n${stderr}`)));
  });
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(
      `${describeCommand} did not print "kiln dev listening on ..." within ${startTimeoutMs} ms; ` +
      `stderr:\n${stderr}`)), startTimeoutMs);
  });
  try {
    const info = await Promise.race([ready, timeout]);
    return { ...info, pid: child.pid, stderr: () => stderr, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { startDevCluster, kilnBinary };
