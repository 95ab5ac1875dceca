'use strict';
// Issue 20, Worker Versioning with build-id version sets: the real @temporalio/client
// TaskQueueClient (updateBuildIdCompatibility, getBuildIdCompatability, getReachability) and the
// `kiln task-queue` build-id commands against the server under test, and real @temporalio/worker
// workers with buildId + useVersioning. On the real Temporal dev server version sets are off
// unless dynamic config turns them on (frontend.workerVersioningDataAPIs), and Standalone
// Activities are not assigned a build id there (they are unversioned tasks): docs/COMPATIBILITY.md.
const { execFile } = require('node:child_process');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { kilnBinary } = require('./lib/devcluster');
const { runWorker, uniqueName, useDevClusterWithClient, withTimeout } = require('./lib/sdk');
const { onKilnDev, onTemporal } = require('./lib/server');

const VERSIONING_DYNAMIC_CONFIG = ['--dynamic-config-value', 'frontend.workerVersioningDataAPIs=true',
  '--dynamic-config-value', 'frontend.workerVersioningWorkflowAPIs=true'];
const env = useDevClusterWithClient({ temporalArgs: VERSIONING_DYNAMIC_CONFIG });

/** Runs `kiln ARGS --address A`; resolves {code, stdout, stderr}. */
function kiln(args) {
  return new Promise((resolve) => {
    execFile(kilnBinary(), [...args, '--address', env.cluster.address], { timeout: 30000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}

const setsOf = (compat) => (compat ? compat.versionSets.map((s) => s.buildIds) : []);

test('(ver-a) TaskQueueClient builds the seed\'s version sets and reads them back', { timeout: 30000 }, async () => {
  const tq = uniqueName('ver-a');
  const taskQueue = env.client.taskQueue;
  assert.equal(await taskQueue.getBuildIdCompatability(tq), undefined, 'a queue without sets');
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '1.0' });
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '2.0' });
  await taskQueue.updateBuildIdCompatibility(tq, {
    operation: 'addNewCompatibleVersion', buildId: '2.1', existingCompatibleBuildId: '2.0',
  });
  let compat = await taskQueue.getBuildIdCompatability(tq);
  assert.deepEqual(setsOf(compat), [['1.0'], ['2.0', '2.1']]);
  assert.equal(compat.defaultBuildId, '2.1');
  assert.equal(compat.defaultSet.default, '2.1');

  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '3.0' });
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'promoteSetByBuildId', buildId: '2.0' });
  compat = await taskQueue.getBuildIdCompatability(tq);
  assert.deepEqual(setsOf(compat), [['1.0'], ['3.0'], ['2.0', '2.1']], 'the promoted set moves last');
  assert.equal(compat.defaultBuildId, '2.1');
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'promoteBuildIdWithinSet', buildId: '2.0' });
  compat = await taskQueue.getBuildIdCompatability(tq);
  assert.deepEqual(setsOf(compat), [['1.0'], ['3.0'], ['2.1', '2.0']]);
  assert.equal(compat.defaultBuildId, '2.0');

  const reach = await taskQueue.getReachability({ buildIds: ['2.0', '2.1'], taskQueues: [tq] });
  assert.deepEqual(reach.buildIdReachability['2.0'].taskQueueReachability[tq], ['NEW_WORKFLOWS'],
    'the overall default is reachable by new executions');
  assert.deepEqual(reach.buildIdReachability['2.1'].taskQueueReachability[tq], [],
    'a superseded id in the default set with nothing open is unreachable');

  await assert.rejects(taskQueue.updateBuildIdCompatibility(tq, {
    operation: 'addNewCompatibleVersion', buildId: '4.1', existingCompatibleBuildId: 'no-such-id',
  }), (err) => /no-such-id|not found/i.test(`${err.message} ${err.cause && err.cause.message}`),
  'a compatible id needs an existing one, and the error says which');
  await assert.rejects(taskQueue.updateBuildIdCompatibility(tq, {
    operation: 'addNewIdInNewDefaultSet', buildId: '1.0',
  }), 'an id already on the queue cannot be added again');
});

test('(ver-b) the kiln CLI changes and reads the sets the TaskQueueClient sees', { timeout: 60000 }, async () => {
  const tq = uniqueName('ver-b');
  for (const args of [
    ['add-new-default', '--build-id', '1.0'],
    ['add-new-default', '--build-id', '2.0'],
    ['add-new-compatible', '--build-id', '2.1', '--existing-compatible-build-id', '2.0'],
    ['add-new-compatible', '--build-id', '1.1', '--existing-compatible-build-id', '1.0', '--set-as-default'],
  ]) {
    const r = await kiln(['task-queue', 'update-build-ids', ...args, '--task-queue', tq]);
    assert.equal(r.code, 0, `kiln task-queue update-build-ids ${args.join(' ')}: ${r.stderr}`);
  }
  const compat = await env.client.taskQueue.getBuildIdCompatability(tq);
  assert.deepEqual(setsOf(compat), [['2.0', '2.1'], ['1.0', '1.1']]);
  const json = await kiln(['task-queue', 'get-build-ids', '--task-queue', tq, '-o', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout).majorVersionSets.map((s) => s.buildIds), setsOf(compat));
  const table = await kiln(['task-queue', 'get-build-ids', '--task-queue', tq]);
  assert.match(table.stdout, /1\.0, 1\.1\s+1\.1\s+yes/);
  const reach = await kiln(['task-queue', 'get-build-id-reachability', '--build-id', '1.1', '--task-queue', tq]);
  assert.equal(reach.code, 0, reach.stderr);
  assert.match(reach.stdout, new RegExp(`1\\.1\\s+${tq}\\s+NEW_WORKFLOWS`));
  const bad = await kiln(['task-queue', 'update-build-ids', 'promote-set', '--build-id', 'nope', '--task-queue', tq]);
  assert.notEqual(bad.code, 0, 'promoting an unknown id fails');
  assert.match(bad.stderr, /nope/);
});

const who = (buildId, got) => ({ async who() { got.push(buildId); return buildId; } });

test('(ver-c) a real @temporalio/worker with buildId + useVersioning receives only its tasks', { timeout: 90000 }, async () => {
  const tq = uniqueName('ver-c');
  const taskQueue = env.client.taskQueue;
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '1.0' });
  await taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '2.0' });
  const got = { '1.0': [], '2.0': [] };
  const execute = (id) => env.client.activity.execute('who', { id, taskQueue: tq, startToCloseTimeout: '10s' });
  const start = (id) => env.client.activity.start('who', { id, taskQueue: tq, startToCloseTimeout: '10s' });
  await runWorker(env.cluster, { taskQueue: tq, activities: who('1.0', got['1.0']), buildId: '1.0', useVersioning: true },
    () => runWorker(env.cluster, { taskQueue: tq, activities: who('2.0', got['2.0']), buildId: '2.0', useVersioning: true },
      async () => {
        if (onTemporal()) {
          // The real server assigns no build id to a Standalone Activity: only an unversioned
          // worker may take it, so neither versioned worker does.
          const handle = await start(uniqueName('ver-c-u'));
          await new Promise((resolve) => setTimeout(resolve, 3000));
          assert.equal((await handle.describe()).runState, 'SCHEDULED', 'no versioned worker took it');
          const got_u = [];
          const result = await runWorker(env.cluster, { taskQueue: tq, activities: who('unversioned', got_u) },
            () => withTimeout(handle.result(), 15000, 'the unversioned worker\'s result'));
          assert.equal(result, 'unversioned');
          return;
        }
        for (let i = 0; i < 3; i++) assert.equal(await execute(uniqueName('ver-c-2')), '2.0');
        await taskQueue.updateBuildIdCompatibility(tq, { operation: 'promoteSetByBuildId', buildId: '1.0' });
        for (let i = 0; i < 3; i++) assert.equal(await execute(uniqueName('ver-c-1')), '1.0');
      }));
  if (onKilnDev()) {
    assert.equal(got['2.0'].length, 3, 'the 2.0 worker ran exactly the 2.0 tasks');
    assert.equal(got['1.0'].length, 3, 'the 1.0 worker ran exactly the 1.0 tasks');
  } else {
    assert.deepEqual(got, { '1.0': [], '2.0': [] });
  }
});

test('(ver-d) on kiln dev, an activity started before the queue had sets stays with unversioned workers',
  { timeout: 60000, skip: onKilnDev() ? false : 'kiln dev\'s assignment of sets to Standalone Activities' }, async () => {
    const tq = uniqueName('ver-d');
    const early = await env.client.activity.start('who', { id: uniqueName('ver-d-early'), taskQueue: tq, startToCloseTimeout: '10s' });
    await env.client.taskQueue.updateBuildIdCompatibility(tq, { operation: 'addNewIdInNewDefaultSet', buildId: '1.0' });
    const got = [];
    await runWorker(env.cluster, { taskQueue: tq, activities: who('1.0', got), buildId: '1.0', useVersioning: true },
      async () => {
        const late = await env.client.activity.execute('who', { id: uniqueName('ver-d-late'), taskQueue: tq, startToCloseTimeout: '10s' });
        assert.equal(late, '1.0');
        assert.equal((await early.describe()).runState, 'SCHEDULED', 'the unversioned task waits for an unversioned worker');
      });
    const result = await runWorker(env.cluster, { taskQueue: tq, activities: who('unversioned', []) },
      () => withTimeout(early.result(), 15000, 'the early activity\'s result'));
    assert.equal(result, 'unversioned');
    assert.equal(got.length, 1);
  });
