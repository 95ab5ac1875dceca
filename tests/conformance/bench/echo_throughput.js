'use strict';
// Rough no-op throughput of `kiln worker` against `kiln dev`: N kiln.echo activities executed by
// @temporalio/client with C of them in flight at once. Not part of the test suite.
//
//   KILN_BIN=build/bin/kiln node tests/conformance/bench/echo_throughput.js [N=1000] [C=50] [worker args...]
//
// KILN_BENCH_DB=PATH runs `kiln dev` on that SQLite file (durable, WAL, group commit) instead of
// the in-memory store. Results and how to read them: docs/BENCHMARKS.md.
const { startDevCluster } = require('../lib/devcluster');
const { startKilnWorker } = require('../lib/kilnworker');
const { connectClient, uniqueName } = require('../lib/sdk');

async function main() {
  const [total = 1000, concurrency = 50] = process.argv.slice(2, 4).map(Number);
  const workerArgs = process.argv.slice(4);
  const db = process.env.KILN_BENCH_DB;
  const cluster = await startDevCluster(db ? { db } : {});
  const { client, close } = await connectClient(cluster);
  const taskQueue = uniqueName('bench-tq');
  const worker = await startKilnWorker(cluster, { taskQueue, extraArgs: workerArgs });
  try {
    const run = (i) => client.activity.execute('kiln.echo', {
      id: `${taskQueue}-${i}`, taskQueue, args: [i], startToCloseTimeout: '30s',
    });
    for (let i = 0; i < concurrency; i++) await run(`warm-${i}`); // connections and pollers up
    let next = 0;
    const latencies = [];
    const started = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        if ((await run(i)) !== i) throw new Error(`kiln.echo ${i} returned something else`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
    console.log(`kiln.echo (${db ? 'sqlite' : ':memory:'}): ${total} executions, ${concurrency} concurrent, ${seconds.toFixed(2)} s, ` +
      `${(total / seconds).toFixed(0)}/s; client latency ms p50 ${pct(0.5)} p99 ${pct(0.99)}`);
  } finally {
    await worker.stop();
    await close();
    await cluster.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
