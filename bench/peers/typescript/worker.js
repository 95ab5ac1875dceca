// A TypeScript SDK activity worker (@temporalio/worker, run as plain JavaScript so there is no
// compile step), a peer of `kiln worker` for benchmarks: it serves peer.noop (returns nothing at
// once) and peer.sleep(ms) (sleeps in 100 ms steps, heartbeating {"current": ms slept, "total":
// ms}, resuming from the previous attempt's heartbeat details, honouring cancellation; returns
// the total slept), like the Go and Python peers.
//
//   NODE_PATH=tests/conformance/node_modules node bench/peers/typescript/worker.js \
//       --address 127.0.0.1:7233 --namespace default --task-queue peers
//
// The packages are the conformance suite's pinned install (tests/conformance/package.json;
// bench/compare installs them when missing). Once it polls it prints one line: `peer worker
// polling <queue> namespace=<ns> identity=<id>`. SIGINT/SIGTERM stop it gracefully.
'use strict';

const { Context } = require('@temporalio/activity');
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const activities = {
  'peer.noop': async () => undefined,
  'peer.sleep': async (ms) => {
    const ctx = Context.current();
    let done = Number(ctx.info.heartbeatDetails?.current ?? 0);
    while (done < ms) {
      const step = Math.min(100, ms - done);
      await ctx.sleep(step); // rejects with a CancelledFailure when the activity is cancelled
      done += step;
      ctx.heartbeat({ current: done, total: ms });
    }
    return done;
  },
};

async function main() {
  const address = flag('address', '127.0.0.1:7233');
  const namespace = flag('namespace', 'default');
  const taskQueue = flag('task-queue', 'peers');
  const identity = `${process.pid}@typescript-peer`;
  Runtime.install({ logger: new DefaultLogger('WARN') });
  let connection;
  try {
    connection = await NativeConnection.connect({ address });
  } catch (err) {
    console.error(`typescript peer: cannot connect to ${address}: ${err.message}`);
    return 1;
  }
  const worker = await Worker.create({ connection, namespace, taskQueue, activities, identity });
  const running = worker.run(); // the SDK shuts the worker down on SIGINT/SIGTERM
  console.log(`peer worker polling ${taskQueue} namespace=${namespace} identity=${identity}`);
  await running;
  await connection.close();
  return 0;
}

main().then((code) => process.exit(code), (err) => {
  console.error(`typescript peer: ${err.stack || err}`);
  process.exit(1);
});
