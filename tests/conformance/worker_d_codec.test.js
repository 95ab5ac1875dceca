'use strict';
// Issue 4, conformance: an encrypted payload round trip. The TS client encrypts with a payload
// codec in the format of Temporal's encryption samples (AES-256-GCM; metadata encoding
// `binary/encrypted` and `encryption-key-id`; data nonce(12) || ciphertext || tag(16) of the
// serialized Payload); `kiln worker --codec-key ID=BASE64` decrypts, runs and encrypts the
// result; `kiln dev` only ever stores ciphertext.
const crypto = require('node:crypto');
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { Client, Connection } = require('@temporalio/client');
const { temporal } = require('@temporalio/proto');
const { startServer } = require('./lib/server');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, withTimeout } = require('./lib/sdk');

const { Payload } = temporal.api.common.v1;
const ENCRYPTED = 'binary/encrypted';
const KEY_ID = 'conformance-key-1';
const KEY = crypto.randomBytes(32);

/** Temporal's encryption-sample codec, written against the format, not against Kiln's code. */
class AesGcmCodec {
  constructor(keyId, key) {
    this.keyId = keyId;
    this.key = key;
  }

  async encode(payloads) {
    return payloads.map((payload) => {
      const nonce = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', this.key, nonce);
      const sealed = Buffer.concat([cipher.update(Payload.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED), 'encryption-key-id': Buffer.from(this.keyId) },
        data: Buffer.concat([nonce, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads) {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCRYPTED) return payload;
      const keyId = Buffer.from(payload.metadata['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId) throw new Error(`payload encrypted with unknown key id '${keyId}'`);
      const data = Buffer.from(payload.data);
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, data.subarray(0, 12));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return Payload.decode(Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]));
    });
  }
}

let cluster;
let connection;
let client;
let worker;
const taskQueue = uniqueName('wd-tq');
before(async () => {
  cluster = await startServer();
  connection = await withTimeout(Connection.connect({ address: cluster.address }), 15000, 'Connection.connect');
  client = new Client({
    connection, namespace: cluster.namespace, dataConverter: { payloadCodecs: [new AesGcmCodec(KEY_ID, KEY)] },
  });
  worker = await startKilnWorker(cluster, {
    taskQueue, extraArgs: ['--codec-key', `${KEY_ID}=${KEY.toString('base64')}`],
  });
});
after(async () => {
  try {
    if (worker) await worker.stop();
  } finally {
    if (connection) await withTimeout(connection.close(), 5000, 'Connection.close').catch(() => {});
    if (cluster) await cluster.stop();
  }
});

/** What the server stores for the activity, read with a raw DescribeActivityExecution. */
async function storedPayloads(activityId) {
  const described = await connection.workflowService.describeActivityExecution({
    namespace: cluster.namespace, activityId, includeInput: true, includeOutcome: true,
  });
  return { input: described.input?.payloads ?? [], result: described.outcome?.result?.payloads ?? [] };
}

function assertCiphertext(payload, plaintext, what) {
  assert.equal(Buffer.from(payload.metadata.encoding).toString(), ENCRYPTED, `${what}: encoding`);
  assert.equal(Buffer.from(payload.metadata['encryption-key-id']).toString(), KEY_ID, `${what}: key id`);
  assert.equal(Buffer.from(payload.data).indexOf(plaintext), -1, `${what}: the plaintext is stored in clear`);
}

test('an encrypted kiln.echo round trip returns the value while the server stores only ciphertext',
  { timeout: 20000 }, async () => {
    const secret = `secret-${crypto.randomUUID()}`;
    const id = uniqueName('wd-echo');
    const result = await withTimeout(client.activity.execute('kiln.echo', {
      id, taskQueue, args: [{ secret, n: 7 }], startToCloseTimeout: '10s',
    }), 15000, `execute(kiln.echo ${id})`);
    assert.deepEqual(result, { secret, n: 7 });

    const stored = await storedPayloads(id);
    assert.equal(stored.input.length, 1);
    assert.equal(stored.result.length, 1);
    assertCiphertext(stored.input[0], secret, 'stored input');
    assertCiphertext(stored.result[0], secret, 'stored result');
  });

test('the worker decrypts the input it runs on and encrypts its result with the same key',
  { timeout: 20000 }, async () => {
    const id = uniqueName('wd-sleep');
    // kiln.sleep can only run if it can read its duration; its result is the milliseconds slept.
    const result = await withTimeout(client.activity.execute('kiln.sleep', {
      id, taskQueue, args: ['150ms'], startToCloseTimeout: '10s', retry: { maximumAttempts: 1 },
    }), 15000, `execute(kiln.sleep ${id})`);
    assert.equal(result, 150);

    const stored = await storedPayloads(id);
    assertCiphertext(stored.input[0], '150ms', 'stored input');
    assertCiphertext(stored.result[0], '150', 'stored result');
  });
