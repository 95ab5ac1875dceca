'use strict';
// Issue 3, conformance (g): tasks started while no worker runs wait, and complete once a worker starts.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Context } = require('@temporalio/activity');
const { runWorker, uniqueName, useDevClusterWithClient, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

const executions = []; // activityId per execution seen by the worker

test('(g) activities started with no worker wait scheduled, then each completes once when a worker starts',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('g-tq');
    const handles = [];
    for (let i = 0; i < 3; i++) {
      handles.push(await env.client.activity.start('deferredDouble', {
        id: uniqueName(`g-act${i}`), taskQueue, args: [i], startToCloseTimeout: '10s',
      }));
    }
    for (const handle of handles) {
      const d = await handle.describe();
      assert.equal(d.status, 'RUNNING', `${handle.activityId} status while no worker runs`);
      assert.equal(d.runState, 'SCHEDULED', `${handle.activityId} run state while no worker runs`);
      assert.equal(d.lastStartedTime, undefined, `${handle.activityId} was never started`);
    }

    const activities = {
      async deferredDouble(n) {
        executions.push(Context.current().info.activityId);
        return n * 2;
      },
    };
    const results = await runWorker(env.cluster, { taskQueue, activities }, () =>
      withTimeout(Promise.all(handles.map((h) => h.result())), 15000, 'results of the waiting activities'));

    assert.deepEqual(results, [0, 2, 4]);
    assert.deepEqual([...executions].sort(), handles.map((h) => h.activityId).sort(), 'each ran exactly once');
    for (const handle of handles) assert.equal((await handle.describe()).status, 'COMPLETED');
  });
