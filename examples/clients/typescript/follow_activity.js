#!/usr/bin/env node
// @ts-check
'use strict';
// Demonstrates @temporalio/client's Standalone Activity API against `kiln dev` + `kiln worker`:
// start kiln.sleep, follow its progress with handle.describe() (the heartbeat-details convention
// of docs/PROGRESS.md: {"progress": {"fraction", "message", ...}}) and print its result.
//
//   node follow_activity.js --address 127.0.0.1:7233 --namespace default --task-queue demo --sleep 3s
//
// Plain JavaScript checked by JSDoc types (`// @ts-check`), so node 20 runs it without a build
// step. @temporalio/client comes from NODE_PATH / a local install, else from the conformance
// suite's pinned packages (tests/conformance/node_modules).
// Prints "started <id>", one "progress NN%: <message>" line per change, then "result: <json>";
// exits 0 on success, 1 when the activity failed, 2 on bad flags.
const path = require('node:path');
const crypto = require('node:crypto');

/** @returns {typeof import('@temporalio/client')} */
function loadClient() {
  try {
    return require('@temporalio/client');
  } catch {
    const pinned = path.resolve(__dirname, '../../../tests/conformance/node_modules');
    return require(require.resolve('@temporalio/client', { paths: [pinned] }));
  }
}

/**
 * @param {string[]} argv
 * @returns {{address: string, namespace: string, taskQueue: string, sleep: string}}
 */
function parseFlags(argv) {
  const flags = { address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'demo', sleep: '3s' };
  /** @type {Record<string, keyof typeof flags>} */
  const names = { '--address': 'address', '--namespace': 'namespace', '--task-queue': 'taskQueue',
    '--sleep': 'sleep' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      throw new Error(`${key ? 'missing value for' : 'unknown flag'} ${argv[i]}\n` +
        'usage: follow_activity.js [--address HOST:PORT] [--namespace NS] [--task-queue QUEUE] ' +
        '[--sleep DURATION]');
    }
    flags[key] = argv[i + 1];
  }
  return flags;
}

/** @param {{address: string, namespace: string, taskQueue: string, sleep: string}} flags */
async function main(flags) {
  const { Client, Connection } = loadClient();
  const connection = await Connection.connect({ address: flags.address });
  try {
    const client = new Client({ connection, namespace: flags.namespace });
    const id = `client-example-${crypto.randomUUID()}`;
    // A heartbeat timeout makes the worker report progress often.
    const handle = await client.activity.start('kiln.sleep', {
      id, taskQueue: flags.taskQueue, args: [flags.sleep],
      startToCloseTimeout: '10m', heartbeatTimeout: '2s',
    });
    console.log(`started ${id}`);

    let lastLine = '';
    for (;;) {
      const d = await handle.describe({ includeHeartbeatDetails: true });
      if (d.hasHeartbeatDetails) {
        /** @type {any} */
        const details = await d.getHeartbeatDetails();
        const progress = details && typeof details === 'object' ? details.progress : undefined;
        if (progress && typeof progress === 'object') {
          const percent = String(Math.floor((Number(progress.fraction) || 0) * 100)).padStart(3);
          const line = `progress ${percent}%: ${progress.message || ''}`;
          if (line !== lastLine) console.log(line);
          lastLine = line;
        }
      }
      if (d.status !== 'RUNNING') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    try {
      console.log(`result: ${JSON.stringify(await handle.result())}`);
      return 0;
    } catch (err) {
      const cause = /** @type {any} */ (err).cause;
      console.log(`failed: ${cause ? cause.message : /** @type {Error} */ (err).message}`);
      return 1;
    }
  } finally {
    await connection.close();
  }
}

let flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (err) {
  console.error(/** @type {Error} */ (err).message);
  process.exit(2);
}
main(flags).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`error: ${err && err.message ? err.message : err}`);
  process.exitCode = 1;
});
