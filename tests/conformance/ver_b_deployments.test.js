'use strict';
// Issue 20, Worker Deployments: `kiln worker --deployment-name N --build-id B --use-versioning`
// sends deployment_options on its polls as a current SDK's worker does. On the real Temporal dev
// server that registers version N/B, and once the version is made current Standalone Activities
// on the queue go to it (before, they wait for an unversioned worker). `kiln dev` does not serve
// Worker Deployments: there the same worker polls unversioned and runs the activity at once.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');
const { onTemporal } = require('./lib/server');

const env = useDevClusterWithClient();

test('(ver-e) a Kiln worker of a Worker Deployment version receives activities once its version is current',
  { timeout: 60000 }, async () => {
    const taskQueue = uniqueName('ver-e');
    const deploymentName = uniqueName('gpu-render');
    const worker = await startKilnWorker(env.cluster, {
      taskQueue, extraArgs: ['--deployment-name', deploymentName, '--build-id', 'b1', '--use-versioning'],
    });
    try {
      const service = env.client.workflowService;
      const start = () => env.client.activity.start('kiln.echo', {
        id: uniqueName('ver-e-a'), taskQueue, args: ['hi'], startToCloseTimeout: '10s',
      });
      if (!onTemporal()) {
        const handle = await start();
        assert.equal(await withTimeout(handle.result(), 15000, 'kiln dev: the result'), 'hi',
          'kiln dev treats a deployment poll as unversioned');
        return;
      }
      const described = await waitFor(
        () => service.describeWorkerDeployment({ namespace: env.cluster.namespace, deploymentName }),
        (d) => d.workerDeploymentInfo.versionSummaries.some((v) => v.deploymentVersion.buildId === 'b1'),
        { what: `deployment ${deploymentName} lists version b1 (registered by the worker's polls)` });
      assert.equal(described.workerDeploymentInfo.name, deploymentName);

      const handle = await start();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      assert.equal((await handle.describe()).runState, 'SCHEDULED',
        'without a current version the task is unversioned, and no unversioned worker polls');

      await service.setWorkerDeploymentCurrentVersion({
        namespace: env.cluster.namespace, deploymentName, buildId: 'b1', identity: 'ver-e',
      });
      assert.equal(await withTimeout(handle.result(), 15000, 'the result after set-current-version'), 'hi');
      assert.equal((await handle.describe()).lastWorkerIdentity, worker.identity);
    } finally {
      await worker.stop();
    }
  });
