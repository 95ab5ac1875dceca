'use strict';
// Issue 3, conformance (f): list and count agree with what was started.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { uniqueName, useDevClusterWithClient, waitFor, withTimeout } = require('./lib/sdk');

const env = useDevClusterWithClient();

async function listAll(query) {
  const out = [];
  for await (const info of env.client.activity.list(query)) out.push(info);
  return out;
}

test('(f) list and count agree with the activities started, filtered by queue, type, id and status',
  { timeout: 30000 }, async () => {
    const taskQueue = uniqueName('f-tq');
    const typeA = uniqueName('listedAlpha').replace(/-/g, '_');
    const typeB = uniqueName('listedBeta').replace(/-/g, '_');
    const started = [];
    for (const type of [typeA, typeA, typeB]) {
      const handle = await env.client.activity.start(type, {
        id: uniqueName('f-act'), taskQueue, startToCloseTimeout: '30s',
      });
      started.push({ id: handle.activityId, runId: handle.runId, type });
    }
    const terminated = started[1];
    await env.client.activity.getHandle(terminated.id).terminate('conformance test terminates one');
    await withTimeout(env.client.activity.getHandle(terminated.id).result().catch(() => {}), 10000,
      'result() of the terminated activity');

    const byQueue = `TaskQueue = "${taskQueue}"`;
    const counts = [
      [byQueue, 3],
      [`${byQueue} AND ActivityType = "${typeA}"`, 2],
      [`${byQueue} AND ExecutionStatus = "Running"`, 2],
      [`${byQueue} AND ExecutionStatus = "Terminated"`, 1],
      [`ActivityId = "${started[2].id}"`, 1],
      [`ActivityType = "${typeB}"`, 1],
    ];
    for (const [query, expected] of counts) {
      // Visibility is eventually consistent in Temporal: allow it to catch up, bounded.
      await waitFor(() => env.client.activity.count(query), (c) => c.count === expected,
        { timeoutMs: 5000, what: `count(${query}) === ${expected}` });
    }

    const listed = await waitFor(() => listAll(byQueue), (l) => l.length === 3,
      { timeoutMs: 5000, what: `list(${byQueue}) has 3 entries` });
    const byId = new Map(listed.map((info) => [info.activityId, info]));
    assert.deepEqual([...byId.keys()].sort(), started.map((s) => s.id).sort());
    for (const s of started) {
      const info = byId.get(s.id);
      assert.equal(info.activityRunId, s.runId, `run id of ${s.id}`);
      assert.equal(info.activityType, s.type, `type of ${s.id}`);
      assert.equal(info.taskQueue, taskQueue, `task queue of ${s.id}`);
      assert.equal(info.status, s === terminated ? 'TERMINATED' : 'RUNNING', `status of ${s.id}`);
      assert.ok(info.scheduleTime instanceof Date, `scheduleTime of ${s.id}: ${info.scheduleTime}`);
    }
    const alphas = await listAll(`${byQueue} AND ActivityType = "${typeA}"`);
    assert.deepEqual(alphas.map((i) => i.activityId).sort(), started.filter((s) => s.type === typeA).map((s) => s.id).sort());

    for (const s of started) {
      if (s !== terminated) await env.client.activity.getHandle(s.id).terminate('conformance test cleans up');
    }
  });
