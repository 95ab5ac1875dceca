'use strict';
// Issue 6: examples/clients/typescript/follow_activity.js (the @temporalio/client Standalone
// Activity example) run as a user runs it, with `node`, against `kiln dev` + `kiln worker`: it
// prints progress from kiln.sleep's heartbeat details and then the result, and exits 0.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const { startServer } = require('./lib/server');
const { withKilnWorker } = require('./lib/kilnworker');
const { uniqueName } = require('./lib/sdk');

const EXAMPLE = path.resolve(__dirname, '../../examples/clients/typescript/follow_activity.js');

let cluster;
before(async () => { cluster = await startServer(); });
after(() => cluster && cluster.stop());

/** Runs `node EXAMPLE args` (no NODE_PATH: the example finds the pinned packages itself). */
function runExample(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env.NODE_PATH;
    const child = spawn(process.execPath, [EXAMPLE, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c) => { output += c; });
    child.stderr.on('data', (c) => { output += c; });
    const timer = setTimeout(() => {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      reject(new Error(`example did not finish within ${timeoutMs} ms; output:\n${output}`));
    }, timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output }); });
  });
}

test('the TypeScript client example follows kiln.sleep progress and prints its result',
  { timeout: 60000 }, async () => {
    const taskQueue = uniqueName('ts-example');
    const run = await withKilnWorker(cluster, { taskQueue }, () => runExample(
      ['--address', cluster.address, '--namespace', cluster.namespace, '--task-queue', taskQueue,
        '--sleep', '3s'], 45000));
    assert.equal(run.code, 0, `exit code ${run.code} (signal ${run.signal}); output:\n${run.output}`);
    assert.match(run.output, /^started client-example-/m, run.output);
    const percents = [...run.output.matchAll(/^progress +(\d+)%: slept .* of 3s$/gm)].map((m) => Number(m[1]));
    assert.ok(percents.length >= 2, `expected at least two progress lines:\n${run.output}`);
    for (let i = 1; i < percents.length; i += 1) {
      assert.ok(percents[i] >= percents[i - 1], `progress should not go back:\n${run.output}`);
    }
    assert.ok(percents[0] < percents[percents.length - 1], `progress should grow:\n${run.output}`);
    const result = run.output.match(/^result: (\d+)$/m);
    assert.ok(result, `no "result: N" line:\n${run.output}`);
    assert.ok(Number(result[1]) >= 3000, `slept ${result[1]} ms of 3s`);
  });
