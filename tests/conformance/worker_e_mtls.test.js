'use strict';
// Issue 4, conformance: mTLS end to end with certificates made here by the openssl CLI (a CA, a
// server certificate for 127.0.0.1, a client certificate). `kiln dev` serves TLS and requires
// client certificates; `kiln worker` and @temporalio/client connect with theirs; a client that
// has no certificate is refused.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { after, before, test } = require('node:test');
const assert = require('node:assert/strict');
const { Client, Connection } = require('@temporalio/client');
const { startDevCluster } = require('./lib/devcluster');
const { onlyOn } = require('./lib/server');

// `temporal server start-dev` has no TLS options, so this file runs against kiln dev only.
const skip = onlyOn('kiln-dev', 'temporal server start-dev cannot serve TLS');
const { startKilnWorker } = require('./lib/kilnworker');
const { uniqueName, withTimeout } = require('./lib/sdk');

/** Writes ca.pem, server.pem/server.key (SAN IP:127.0.0.1) and client.pem/client.key into dir. */
function makeCertificates(dir) {
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=Kiln conformance test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const leaf = (name, subject, extensions) => {
    fs.writeFileSync(path.join(dir, `${name}.ext`), extensions);
    openssl('req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', '/CN=127.0.0.1', [
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost', ''].join('\n'));
  leaf('client', '/CN=kiln-conformance-client', [
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth', ''].join('\n'));
  const file = (name) => path.join(dir, name);
  return { dir, ca: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server.key'),
    clientCert: file('client.pem'), clientKey: file('client.key') };
}

let certs;
let cluster;
let connection;
let worker;
const taskQueue = uniqueName('we-tq');
before(async () => {
  if (skip) return;
  certs = makeCertificates(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-mtls-')));
  cluster = await startDevCluster({
    extraArgs: ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.ca],
  });
  worker = await startKilnWorker(cluster, {
    taskQueue,
    extraArgs: ['--tls', '--tls-ca-path', certs.ca, '--tls-cert-path', certs.clientCert, '--tls-key-path', certs.clientKey],
  });
});
after(async () => {
  try {
    if (worker) await worker.stop();
    if (connection) await withTimeout(connection.close(), 5000, 'Connection.close').catch(() => {});
  } finally {
    if (cluster) await cluster.stop();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  }
});

test('over mTLS the TS client runs kiln.echo on the C++ worker', { timeout: 30000, skip }, async () => {
  connection = await withTimeout(Connection.connect({
    address: cluster.address,
    tls: {
      serverRootCACertificate: fs.readFileSync(certs.ca),
      clientCertPair: { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) },
    },
  }), 15000, `mTLS Connection.connect to ${cluster.address}`);
  const client = new Client({ connection, namespace: cluster.namespace });
  const result = await withTimeout(client.activity.execute('kiln.echo', {
    id: uniqueName('we-echo'), taskQueue, args: ['over mTLS'], startToCloseTimeout: '10s',
  }), 15000, 'execute(kiln.echo) over mTLS');
  assert.equal(result, 'over mTLS');
});

/**
 * Opens a raw connection to `address` (TLS when `tlsOptions` is given), sends the HTTP/2 client
 * preface and resolves with what ended it: { connected: false, error } when no TCP connection
 * was made (nothing listening), else { connected: true, handshaken, error, http2Reply } where
 * `handshaken` says the client finished its TLS handshake, `error` is the
 * socket's error (e.g. a TLS alert) and `http2Reply` tells whether the server answered with an
 * HTTP/2 frame, as a server that accepted the client would.
 */
function probe(address, tlsOptions) {
  const net = require('node:net');
  const tls = require('node:tls');
  const colon = address.lastIndexOf(':');
  const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);  // and an empty SETTINGS frame
  return new Promise((resolve) => {
    let connected = false;
    let handshaken = false;
    let error = null;
    let reply = Buffer.alloc(0);
    const tcp = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    let socket = tcp;
    const finish = () => resolve({ connected, handshaken, error, http2Reply: reply.length >= 9 && reply[3] === 4 });
    tcp.once('error', (e) => { if (!connected) { error = e; finish(); } });
    tcp.once('connect', () => {
      connected = true;
      if (tlsOptions) {
        socket = tls.connect({ socket: tcp, servername: 'localhost', ALPNProtocols: ['h2'], ...tlsOptions },
          () => { handshaken = true; socket.write(preface); });
      } else {
        tcp.write(preface);
      }
      socket.setTimeout(5000, () => socket.destroy(new Error('probe: no answer within 5 s')));
      socket.on('data', (d) => {
        reply = Buffer.concat([reply, d]);
        // A server that accepted the client answers with SETTINGS; stop there.
        if (reply.length >= 9 && reply[3] === 4) socket.destroy();
      });
      socket.on('error', (e) => { error = error || e; });
      socket.on('close', finish);
    });
  });
}

test('a client without a client certificate is refused', { timeout: 30000, skip }, async () => {
  const attempt = (tls) => Connection.connect({ address: cluster.address, tls, connectTimeout: '3s' }).then(
    async (c) => {
      await c.close().catch(() => {});
      return new Error('connected');
    },
    (e) => e);
  const noClientCert = await withTimeout(attempt({ serverRootCACertificate: fs.readFileSync(certs.ca) }),
    15000, 'TLS connect without a client certificate');
  assert.ok(noClientCert instanceof Error && noClientCert.message !== 'connected',
    'a TLS connection without a client certificate must be refused');
  const plaintext = await withTimeout(attempt(false), 15000, 'plaintext connect');
  assert.ok(plaintext instanceof Error && plaintext.message !== 'connected',
    'a plaintext connection must be refused');

  // The SDK only says "Failed to connect before the deadline", also when nothing listens; so
  // look at the connections themselves: the server is there and refuses them for TLS reasons.
  const ca = fs.readFileSync(certs.ca);
  const withCert = await probe(cluster.address, {
    ca, cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) });
  assert.ok(withCert.connected && withCert.http2Reply,
    `the probe itself must work: with the client certificate the server answers HTTP/2 (${withCert.error})`);
  const noCert = await probe(cluster.address, { ca });
  assert.ok(noCert.connected, `TLS without a client certificate: the server must be there (${noCert.error})`);
  assert.ok(!noCert.http2Reply, 'TLS without a client certificate must get no HTTP/2 answer');
  // TLS 1.3 finishes the client's side of the handshake before the server checks the client
  // certificate; the server then ends the connection (with an alert, or by closing it) instead
  // of answering HTTP/2, which it does for the same client with its certificate (above). With
  // TLS 1.2 the handshake itself fails with an alert. Nothing else counts as a refusal.
  const alert = /CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|alert certificate required|alert handshake failure/i;
  const refusedForTheCertificate = noCert.error
    ? alert.test(String(noCert.error.code || '') + ' ' + noCert.error.message)
    : noCert.handshaken;
  assert.ok(refusedForTheCertificate,
    `TLS without a client certificate must be ended by the server after the handshake or by a TLS alert, got: ${noCert.error}`);
  const plain = await probe(cluster.address, null);
  assert.ok(plain.connected, `plaintext: the server must be there (${plain.error})`);
  assert.ok(!plain.http2Reply, 'plaintext must get no HTTP/2 answer from a TLS server');
});
