'use strict';
// Workflow activities on the real Temporal server routed by Kiln's queue names (docs/ROUTING.md):
// `Q@H` reaches only host H's worker; GPU queues of simulated devices (`Q@H/gpuN`, `Q:TAG`) reach
// that device, as kiln.gpu.probe reports it.
const { before, test } = require('node:test');
const assert = require('node:assert/strict');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, withTimeout } = require('./lib/sdk');
const { historyEvents, startWorkflow, useWorkflowServer, workflowSkip: skip } = require('./lib/workflows');

const env = useWorkflowServer();
const queue = uniqueName('wfc');
const hostA = uniqueName('host-a');
const hostB = uniqueName('host-b');
const workers = {};
before(async () => {
  if (skip) return;
  await env.ready();
  env.atStop.push(async () => {
    for (const w of Object.values(workers)) await w.stop();
  });
  workers.a = await startKilnWorker(env.cluster, { taskQueue: queue, extraArgs: ['--host-id', hostA] });
  workers.b = await startKilnWorker(env.cluster, { taskQueue: queue, extraArgs: ['--host-id', hostB] });
  workers.gpu = await startKilnWorker(env.cluster, { taskQueue: `${queue}-gpu`,
    extraArgs: ['--host-id', 'gpuhost', '--simulate-gpus', '2xH100:80:sm90'] });
});

/** Runs the steps in one workflow; returns [results, identity of the worker that ran each step]. */
async function runSteps(steps) {
  const handle = await startWorkflow(env, 'runSequence', [steps]);
  const results = await withTimeout(handle.result(), 20000, `workflow ${handle.workflowId}`);
  const identities = (await historyEvents(handle)).filter((e) => e.type === 'ACTIVITY_TASK_STARTED')
    .map((e) => e.attributes.identity);
  return [results, identities];
}

test('activities sent to Q@H run only on host H\'s Kiln worker', { timeout: 30000, skip }, async () => {
  const step = (taskQueue, n) => ({ type: 'kiln.echo', args: [n], options: { taskQueue, startToCloseTimeout: '10s' } });
  const steps = [];
  for (let i = 0; i < 3; i++) steps.push(step(`${queue}@${hostB}`, `b${i}`), step(`${queue}@${hostA}`, `a${i}`));
  const [results, identities] = await runSteps(steps);
  assert.deepEqual(results, ['b0', 'a0', 'b1', 'a1', 'b2', 'a2']);
  assert.deepEqual(identities, steps.map((s) => (s.options.taskQueue.endsWith(hostA) ? workers.a : workers.b).identity));
});

test('GPU queues of simulated devices: Q@H/gpuN reaches device N, Q:sm90 and Q:h100 reach a device of that kind',
  { timeout: 30000, skip }, async () => {
    const probe = (taskQueue) => ({ type: 'kiln.gpu.probe', args: [{ elements: 1024 }],
      options: { taskQueue, startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } } });
    const gq = `${queue}-gpu`;
    const [results, identities] = await runSteps([
      probe(`${gq}@gpuhost/gpu1`), probe(`${gq}@gpuhost/gpu0`), probe(`${gq}:sm90`), probe(`${gq}:h100`)]);
    assert.deepEqual(results.map((r) => r.device.index).slice(0, 2), [1, 0], JSON.stringify(results));
    for (const r of results) {
      assert.equal(r.device.simulated, true, JSON.stringify(r));
      assert.match(r.device.name, /H100/, JSON.stringify(r));
      assert.equal(r.correct, true, JSON.stringify(r));
    }
    assert.ok([0, 1].includes(results[2].device.index) && [0, 1].includes(results[3].device.index));
    assert.ok(identities.every((id) => id === workers.gpu.identity), identities.join(', '));
  });
