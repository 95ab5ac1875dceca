'use strict';
// Issue 20, Worker Deployments: `kiln worker --deployment-name N --build-id B --use-versioning`
// sends deployment_options on its polls as a current SDK's worker does. On the real Temporal dev
// server and on `kiln dev` alike, that registers version N/B (`kiln worker-deployment describe`
// lists it), and once `kiln worker-deployment set-current-version` makes the version current
// Standalone Activities on the queue go to it (before, they wait for an unversioned worker).
const { execFile } = require('node:child_process');
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { kilnBinary } = require('./lib/devcluster');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

/** Runs `kiln ARGS --address A --namespace NS`; resolves {code, stdout, stderr}. */
function kiln(args) {
  return new Promise((resolve) => {
    execFile(kilnBinary(), [...args, '--address', env.cluster.address, '--namespace', env.cluster.namespace],
      { timeout: 30000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}

/** `kiln worker-deployment describe --name N --output json`, parsed; throws on failure. */
async function describeDeployment(name) {
  const r = await kiln(['worker-deployment', 'describe', '--name', name, '--output', 'json']);
  assert.equal(r.code, 0, `kiln worker-deployment describe: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('(ver-e) a Kiln worker of a Worker Deployment version receives activities once its version is current',
  { timeout: 60000 }, async () => {
    const taskQueue = uniqueName('ver-e');
    const deploymentName = uniqueName('gpu-render');
    const worker = await startKilnWorker(env.cluster, {
      taskQueue, extraArgs: ['--deployment-name', deploymentName, '--build-id', 'b1', '--use-versioning'],
    });
    try {
      const start = () => env.client.activity.start('kiln.echo', {
        id: uniqueName('ver-e-a'), taskQueue, args: ['hi'], startToCloseTimeout: '10s',
      });
      const described = await waitFor(
        () => describeDeployment(deploymentName),
        (d) => (d.workerDeploymentInfo.versionSummaries || []).some((v) => v.deploymentVersion.buildId === 'b1'),
        { what: `deployment ${deploymentName} lists version b1 (registered by the worker's polls)` });
      assert.equal(described.workerDeploymentInfo.name, deploymentName);

      const handle = await start();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal((await handle.describe()).runState, 'SCHEDULED',
        'without a current version the task is unversioned, and no unversioned worker polls');

      const set = await kiln(['worker-deployment', 'set-current-version', '--deployment-name', deploymentName,
        '--build-id', 'b1', '--identity', 'ver-e']);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, new RegExp(`Made ${deploymentName}/b1 the current version`));
      const current = (await describeDeployment(deploymentName)).workerDeploymentInfo;
      assert.deepEqual(current.routingConfig.currentDeploymentVersion, { deploymentName, buildId: 'b1' },
        'describe --output json shows b1 current');
      assert.equal(current.lastModifierIdentity, 'ver-e');
      assert.equal(await withTimeout(handle.result(), 15000, 'the result after set-current-version'), 'hi');
      assert.equal((await handle.describe()).lastWorkerIdentity, worker.identity);
    } finally {
      await worker.stop();
    }
  });

test('(ver-f) a ramping version gets its share of new activities; deleting the ramp and a new current version move them',
  { timeout: 90000 }, async () => {
    const taskQueue = uniqueName('ver-f');
    const deploymentName = uniqueName('gpu-render');
    const versioned = (buildId) => ['--deployment-name', deploymentName, '--build-id', buildId, '--use-versioning'];
    const b1 = await startKilnWorker(env.cluster, { taskQueue, extraArgs: versioned('b1') });
    const b2 = await startKilnWorker(env.cluster, { taskQueue, extraArgs: versioned('b2') });
    try {
      await waitFor(() => describeDeployment(deploymentName),
        (d) => (d.workerDeploymentInfo.versionSummaries || []).length === 2,
        { what: `deployment ${deploymentName} lists versions b1 and b2` });
      // Runs one kiln.echo; resolves the identity of the worker that ran it.
      const whoRuns = async () => {
        const handle = await env.client.activity.start('kiln.echo', {
          id: uniqueName('ver-f-a'), taskQueue, args: ['hi'], startToCloseTimeout: '10s',
        });
        assert.equal(await withTimeout(handle.result(), 15000, 'the result'), 'hi');
        return (await handle.describe()).lastWorkerIdentity;
      };
      // The real server applies a routing change to the queue asynchronously: give it a moment.
      const change = async (args) => {
        const r = await kiln(['worker-deployment', ...args, '--deployment-name', deploymentName]);
        assert.equal(r.code, 0, r.stderr);
        await new Promise((resolve) => setTimeout(resolve, 1500));
      };
      await change(['set-current-version', '--build-id', 'b1']);
      assert.equal(await whoRuns(), b1.identity, 'b1 current');
      await change(['set-ramping-version', '--build-id', 'b2', '--percentage', '100']);
      assert.equal(await whoRuns(), b2.identity, 'b2 ramping at 100%');
      const ramping = (await describeDeployment(deploymentName)).workerDeploymentInfo;
      assert.deepEqual(ramping.routingConfig.rampingDeploymentVersion, { deploymentName, buildId: 'b2' });
      assert.equal(ramping.routingConfig.rampingVersionPercentage, 100);
      await change(['set-ramping-version', '--delete']);
      assert.equal(await whoRuns(), b1.identity, 'ramp deleted: b1 again');
      await change(['set-current-version', '--build-id', 'b2']);
      assert.equal(await whoRuns(), b2.identity, 'b2 current');
      const missing = await kiln(['worker-deployment', 'set-current-version', '--deployment-name', deploymentName,
        '--build-id', 'b9']);
      assert.equal(missing.code, 4, missing.stderr); // NOT_FOUND
      assert.match(missing.stderr, /build ID 'b9' not found in Worker Deployment/);
    } finally {
      await b1.stop();
      await b2.stop();
    }
  });
