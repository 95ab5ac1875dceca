'use strict';
// SDK workers as peers of `kiln worker` (bench/peers/): a Go SDK worker and a Python SDK worker,
// each serving peer.noop and peer.sleep(ms). The suite runs the scenarios that make sense for them
// through the same client calls it uses for Kiln, which shows the scenarios test Temporal
// behaviour rather than Kiln's.
//
// The Go peer is built once per source version into $KILN_CACHE_DIR/peers (default
// ~/.cache/kiln/peers, outside the tree); the Python peer runs in the virtual environment that
// scripts/python-env provides (pinned temporalio). peerUnavailable(kind) says why one cannot run.
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startWorkerProcess } = require('./kilnworker');

const ROOT = path.resolve(__dirname, '../../..');
const GO_DIR = path.join(ROOT, 'bench/peers/go');
const PY_WORKER = path.join(ROOT, 'bench/peers/python/worker.py');
const cacheDir = () => process.env.KILN_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kiln');

const prepared = new Map(); // kind -> {command, args} or {error}

function goPeer() {
  const hash = crypto.createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(fs.readFileSync(path.join(GO_DIR, f)));
  const bin = path.join(cacheDir(), 'peers', `go-peer-${hash.digest('hex').slice(0, 12)}`);
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    // Minutes the first time on a fresh machine (modules from the Go module proxy, then the build).
    execFileSync('go', ['build', '-o', `${bin}.tmp`, '.'], { cwd: GO_DIR, stdio: ['ignore', 'inherit', 'inherit'], timeout: 15 * 60000 });
    fs.renameSync(`${bin}.tmp`, bin);
  }
  return { command: bin, args: [] };
}

function pythonPeer() {
  const venv = execFileSync(path.join(ROOT, 'scripts/python-env'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return { command: path.join(venv, 'bin/python'), args: ['-u', PY_WORKER] };
}

function prepare(kind) {
  if (!prepared.has(kind)) {
    try {
      prepared.set(kind, kind === 'go' ? goPeer() : pythonPeer());
    } catch (err) {
      prepared.set(kind, { error: kind === 'go'
        ? `the Go peer could not be built (needs go and the Go module proxy): ${err.message}`
        : `the Python peer needs scripts/python-env (python3-venv, PyPI): ${err.message}` });
    }
  }
  return prepared.get(kind);
}

/** Why the peer of this kind cannot run here, or false when it can (prepares it once). */
function peerUnavailable(kind) {
  const p = prepare(kind);
  return p.error || false;
}

/** Starts the peer worker of this kind ('go' | 'python') on taskQueue; same handle as startKilnWorker. */
async function startPeerWorker(kind, cluster, { taskQueue, startTimeoutMs = 30000 }) {
  const p = prepare(kind);
  if (p.error) throw new Error(p.error);
  return startWorkerProcess(p.command, [...p.args, '--address', cluster.address, '--namespace', cluster.namespace,
    '--task-queue', taskQueue], { startTimeoutMs });
}

module.exports = { peerUnavailable, startPeerWorker };
