// Test helpers for HBONE users (lib/hbone, ztunnel, waypoint tests): a small mesh PKI built with
// lib/identity and a TCP upstream. Imports only lib/, so any test may use it.
import net from 'node:net';
import { once } from 'node:events';
import { createIntermediateCertificate, createLeafCertificate, createRootCertificate, type Issuer } from '../identity/certgen.js';
import { algorithmsFor, exportPrivateKeyPem, generateKeyPair } from '../identity/keys.js';
import type { Credentials } from './tls.js';

const DAY = 86_400_000;

export interface TestPki {
  trustDomain: string;
  rootPem: string;
  /** A fresh key and leaf for `identity` (a SPIFFE URI; other URIs may follow as extra SANs). */
  issue(identity: string, opts?: { extraUris?: string[]; ttlMs?: number; roots?: string[] }): Promise<Credentials>;
}

/** A root (optionally with an intermediate that signs the leaves) for `trustDomain`. */
export async function createTestPki(opts: { trustDomain?: string; intermediate?: boolean; name?: string } = {}): Promise<TestPki> {
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  const sign = algorithmsFor('ec-p256').sign;
  const now = Date.now();
  const rootKeys = await generateKeyPair('ec-p256');
  const rootCert = await createRootCertificate({
    subject: `O=${trustDomain}, CN=${opts.name ?? 'test root'}`,
    keys: rootKeys,
    signingAlgorithm: sign,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
  });
  let issuer: Issuer = { certificate: rootCert, privateKey: rootKeys.privateKey, signingAlgorithm: sign };
  const chain: string[] = [];
  if (opts.intermediate) {
    const keys = await generateKeyPair('ec-p256');
    const cert = await createIntermediateCertificate({
      subject: `O=${trustDomain}, CN=${opts.name ?? 'test'} intermediate`,
      publicKey: keys.publicKey,
      issuer,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 300 * DAY),
    });
    issuer = { certificate: cert, privateKey: keys.privateKey, signingAlgorithm: sign };
    chain.push(cert.toString('pem') + '\n');
  }
  const rootPem = rootCert.toString('pem') + '\n';
  return {
    trustDomain,
    rootPem,
    async issue(identity, o = {}) {
      const keys = await generateKeyPair('ec-p256');
      const t = Date.now();
      const leaf = await createLeafCertificate({
        publicKey: keys.publicKey,
        uris: [identity, ...(o.extraUris ?? [])],
        issuer,
        notBefore: new Date(t - 60_000),
        notAfter: new Date(t + (o.ttlMs ?? DAY)),
      });
      return { certChainPem: [leaf.toString('pem') + '\n', ...chain], keyPem: await exportPrivateKeyPem(keys.privateKey), rootsPem: o.roots ?? [rootPem] };
    },
  };
}

/** A TCP server on 127.0.0.1 that echoes and half-closes when its client does (allowHalfOpen). */
export async function startEchoServer(): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('close', () => sockets.delete(s));
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Connects with allowHalfOpen and resolves once connected (what an HBONE handler does for its upstream). */
export function connectTcp(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
