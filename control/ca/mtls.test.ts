// Certificates from the CA work in a real node:tls mutual TLS 1.3 handshake on loopback, and the
// peer identity helper reads the SPIFFE id on both sides.
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { identityFromPeerCertificate } from '../../lib/identity/chain.js';
import { generateCsr } from '../../lib/identity/csr.js';
import { joinPem } from '../../lib/identity/pem.js';
import { CertificateAuthority } from './authority.js';
import { Signer } from './signer.js';
import { makeTempDir, removeDir, writePlugInCerts } from './testkit.js';

const SERVER = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT = 'spiffe://cluster.local/ns/demo/sa/client';

interface Creds {
  key: string;
  cert: string;
  ca: string;
}

async function credsFor(signer: Signer, identity: string): Promise<Creds> {
  const csr = await generateCsr(identity);
  const { certChain } = await signer.sign({ csrPem: csr.csrPem });
  // Present leaf + intermediates; trust the root bundle (the last element).
  return { key: csr.privateKeyPem, cert: joinPem(certChain.slice(0, -1)), ca: certChain[certChain.length - 1]! };
}

interface Outcome {
  serverSawClient?: string;
  clientSawServer?: string;
  clientError?: string;
  serverError?: string;
}

async function handshake(server: Creds, client: Creds): Promise<Outcome> {
  const out: Outcome = {};
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] }, (sock) => {
    out.serverSawClient = identityFromPeerCertificate(sock.getPeerCertificate(true)).uri;
    sock.end(out.serverSawClient);
  });
  srv.on('tlsClientError', (e) => (out.serverError = e.message));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  try {
    await new Promise<void>((resolve) => {
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        ...client,
        minVersion: 'TLSv1.3',
        ALPNProtocols: ['h2'],
        // Identity is checked by SAN below, not by host name (Istio does no DNS name check).
        checkServerIdentity: () => undefined,
      });
      const timer = setTimeout(() => sock.destroy(new Error('timed out after 10 s')), 10_000);
      let echoed = '';
      sock.on('secureConnect', () => {
        out.clientSawServer = identityFromPeerCertificate(sock.getPeerCertificate(true)).uri;
      });
      sock.on('data', (d: Buffer) => (echoed += d.toString()));
      sock.on('error', (e) => (out.clientError = e.message));
      sock.on('close', () => {
        clearTimeout(timer);
        if (echoed && echoed !== out.serverSawClient) out.clientError = `echo mismatch: ${echoed}`;
        resolve();
      });
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
  return out;
}

t.test('mutual TLS with CA-issued leaves', async (t) => {
  const dir = await makeTempDir('ambit-mtls');
  t.teardown(() => removeDir(dir));
  const selfSigned = new Signer(await CertificateAuthority.open({ dir: path.join(dir, 'a') }));
  await writePlugInCerts(path.join(dir, 'b', 'cacerts'));
  const plugIn = new Signer(await CertificateAuthority.open({ dir: path.join(dir, 'b') }));
  const unrelated = new Signer(await CertificateAuthority.open({ dir: path.join(dir, 'c') }));

  for (const [name, signer] of [['self-signed root', selfSigned], ['plug-in intermediate', plugIn]] as const) {
    const out = await handshake(await credsFor(signer, SERVER), await credsFor(signer, CLIENT));
    t.same(out, { serverSawClient: CLIENT, clientSawServer: SERVER }, `${name}: both sides see the peer's SPIFFE id`);
  }

  const server = await credsFor(selfSigned, SERVER);
  const stranger = await credsFor(unrelated, CLIENT);
  const refused = await handshake(server, { ...stranger, ca: server.ca });
  t.equal(refused.serverSawClient, undefined, 'a client certificate from another CA is refused');
  t.ok(refused.serverError ?? refused.clientError, `handshake failed (${refused.serverError ?? refused.clientError})`);
  const wrongTrust = await handshake(server, { ...(await credsFor(selfSigned, CLIENT)), ca: stranger.ca });
  t.match(wrongTrust.clientError ?? '', /certificate/i, 'the client refuses a server outside its roots');
});
