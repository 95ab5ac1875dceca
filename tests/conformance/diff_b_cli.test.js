'use strict';
// Differential check through the command lines: the official `temporal` CLI and the `kiln` CLI,
// each pointed at `kiln dev` and at the real Temporal dev server, run the same Standalone Activity
// commands (start, a duplicate start, describe, list, count, cancel, terminate, describe of a
// missing id) and `task-queue describe` of a queue a Kiln worker polls. Compared per CLI: exit
// codes, and which fields the JSON output sets. Differences must be `diff:<id>` rows of
// docs/COMPATIBILITY.md; rows whose difference is gone fail as stale.
const { execFile } = require('node:child_process');
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { kilnBinary, startDevCluster } = require('./lib/devcluster');
const { documentedDifferences, formatDifferences, setFields } = require('./lib/differential');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName } = require('./lib/sdk');
const { onlyOn, startTemporalDev, temporalBinary } = require('./lib/server');

const skip = onlyOn('temporal', 'it starts kiln dev and the real server side by side (runs in the temporal pass)');
const servers = {};
const workers = [];
const observed = [];
const covered = new Set();
const queue = uniqueName('cli-q');

before(async () => {
  if (skip) return;
  servers.kiln = { kind: 'kiln-dev', ...(await startDevCluster()) };
  servers.temporal = await startTemporalDev();
  for (const s of Object.values(servers)) workers.push(await startKilnWorker(s, { taskQueue: queue }));
});
after(async () => {
  for (const w of workers) await w.stop().catch(() => {});
  for (const s of Object.values(servers)) await s.stop().catch(() => {});
});

/** Runs a CLI; resolves {code, stdout, stderr} (never rejects on a non-zero exit). */
function run(bin, args) {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 30000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const json = (out) => {
  try {
    return JSON.parse(out.stdout);
  } catch {
    return undefined;
  }
};
// Per run: ids, times and counters differ; which fields are set is what is compared.
const VOLATILE = /(^|\.)(runId|activityRunId|scheduleTime|closeTime|executionTime|lastStartedTime|expirationTime|stateTransitionCount|stateSizeBytes|executionDuration|longPollToken|activityId|taskQueue|lastAccessTime|identity|run_id|activity_id)(\.|\[|$)/;

// [step, cli args for the activity ids of this run ({a, b, missing}), what to compare]
const steps = [
  ['start', (ids) => ['activity', 'start', '--activity-id', ids.a, '--type', 'kiln.sleep', '--task-queue', `${queue}-idle`,
    '--start-to-close-timeout', '30s', '--input', '"10s"']],
  ['start-duplicate', (ids) => ['activity', 'start', '--activity-id', ids.a, '--type', 'kiln.sleep', '--task-queue', `${queue}-idle`,
    '--start-to-close-timeout', '30s', '--input', '"10s"']],
  ['describe', (ids) => ['activity', 'describe', '--activity-id', ids.a, '-o', 'json'], 'fields'],
  ['list', () => ['activity', 'list', '--query', `TaskQueue = "${queue}-idle"`, '-o', 'json'], 'fields'],
  ['count', () => ['activity', 'count', '--query', `TaskQueue = "${queue}-idle"`, '-o', 'json'], 'fields'],
  ['start-second', (ids) => ['activity', 'start', '--activity-id', ids.b, '--type', 'kiln.sleep', '--task-queue', `${queue}-idle`,
    '--start-to-close-timeout', '30s', '--input', '"10s"']],
  ['cancel', (ids) => ['activity', 'cancel', '--activity-id', ids.a, '--reason', 'differential check']],
  ['terminate', (ids) => ['activity', 'terminate', '--activity-id', ids.b, '--reason', 'differential check']],
  ['describe-missing', (ids) => ['activity', 'describe', '--activity-id', ids.missing]],
  ['execute', (ids) => ['activity', 'execute', '--activity-id', ids.c, '--type', 'kiln.echo', '--task-queue', queue,
    '--start-to-close-timeout', '10s', '--input', '"hi"', '-o', 'json'], 'fields'],
  ['task-queue-describe', () => ['task-queue', 'describe', '--task-queue', queue, '-o', 'json'], 'fields'],
];

async function runSteps(bin, server) {
  const ids = { a: uniqueName('cli-a'), b: uniqueName('cli-b'), c: uniqueName('cli-c'), missing: uniqueName('cli-missing') };
  const out = {};
  for (const [name, args] of steps) {
    out[name] = await run(bin, [...args(ids), '--address', server.address, '--namespace', server.namespace]);
  }
  return out;
}

for (const cli of ['temporal', 'kiln']) {
  test(`the ${cli} CLI gets the same exit codes and JSON fields from kiln dev as from the real server`,
    { timeout: 120000, skip }, async () => {
      const bin = cli === 'temporal' ? temporalBinary() : kilnBinary();
      const onKiln = await runSteps(bin, servers.kiln);
      const onTemporal = await runSteps(bin, servers.temporal);
      for (const [name, , compareFields] of steps) {
        const k = onKiln[name];
        const t = onTemporal[name];
        const id = `cli.${cli}.${name}`;
        covered.add(`${id}.exit`);
        if ((k.code === 0) !== (t.code === 0)) {
          observed.push({ id: `${id}.exit`, kiln: `exit ${k.code}: ${(k.stderr || k.stdout).trim().slice(0, 300)}`,
            temporal: `exit ${t.code}: ${(t.stderr || t.stdout).trim().slice(0, 300)}` });
        }
        if (compareFields && k.code === 0 && t.code === 0) {
          const kf = setFields(json(k)).filter((f) => !VOLATILE.test(f));
          const tf = setFields(json(t)).filter((f) => !VOLATILE.test(f));
          for (const f of new Set([...kf, ...tf])) {
            covered.add(`${id}.${f}`);
            if (kf.includes(f) !== tf.includes(f)) {
              observed.push({ id: `${id}.${f}`, kiln: kf.includes(f) ? 'set' : 'unset', temporal: tf.includes(f) ? 'set' : 'unset' });
            }
          }
        }
      }
      // On the real server every step behaves as Temporal users expect, so the comparison means something.
      assert.equal(onTemporal.start.code, 0, onTemporal.start.stderr);
      assert.notEqual(onTemporal['start-duplicate'].code, 0, 'a duplicate start fails');
      assert.notEqual(onTemporal['describe-missing'].code, 0, 'describing a missing activity fails');
      const documented = documentedDifferences();
      const missing = observed.filter((d) => d.id.startsWith(`cli.${cli}.`) && !documented.has(d.id));
      assert.equal(missing.length, 0, `differences not listed in docs/COMPATIBILITY.md:\n${formatDifferences(missing)}`);
    });
}

test('no cli row of docs/COMPATIBILITY.md lists a difference the check no longer sees', { skip }, () => {
  const seen = new Set(observed.map((d) => d.id));
  const stale = [...documentedDifferences()].filter((id) => id.startsWith('cli.') && covered.has(id) && !seen.has(id));
  assert.deepEqual(stale, [], 'these differences are gone: remove their rows from docs/COMPATIBILITY.md');
  if (observed.length) console.log(`cli differences (all documented):\n${formatDifferences(observed)}`);
});
