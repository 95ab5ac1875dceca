'use strict';
// Issue 3, conformance (a): `client.activity.execute` of an activity run by a TypeScript
// activity-only Worker returns its result. Real @temporalio/client + @temporalio/worker against `kiln dev`.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { runWorker, uniqueName, useDevClusterWithClient } = require('./lib/sdk');

const env = useDevClusterWithClient();

test('(a) client.activity.execute returns the result computed by a TS activity-only worker',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('a-tq');
    const id = uniqueName('a-greet');
    const activities = {
      async greet(name, punctuation) {
        return { greeting: `Hello, ${name}${punctuation}`, length: name.length };
      },
    };

    const result = await runWorker(env.cluster, { taskQueue, activities }, () =>
      env.client.activity.execute('greet', {
        id, taskQueue, args: ['Kiln', '!'], startToCloseTimeout: '10s',
      }));

    assert.deepEqual(result, { greeting: 'Hello, Kiln!', length: 4 });
    const description = await env.client.activity.getHandle(id).describe();
    assert.equal(description.status, 'COMPLETED');
    assert.equal(description.activityType, 'greet');
    assert.equal(description.taskQueue, taskQueue);
  });
