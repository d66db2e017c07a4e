// The control plane's own TLS certificate on 15012, issued by its own CA so that clients verify it
// with the published root, and renewed at half of its lifetime without restarting the server.
import os from 'node:os';
import net from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createLeafCertificate } from '../../lib/identity/certgen.js';
import { exportPrivateKeyPem, generateKeyPair } from '../../lib/identity/keys.js';
import { formatSpiffeId } from '../../lib/identity/spiffe.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { CertificateAuthority } from '../ca/authority.js';

export interface ServingIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  /** The address the gRPC server listens on: a wildcard adds every local interface address. */
  listenHost: string;
  extraDnsNames?: string[];
}

export interface ServingCertificate {
  /** Leaf then intermediates (not the root): what the server presents. */
  certChainPem: string;
  keyPem: string;
  identity: string;
  dnsNames: string[];
  ipAddresses: string[];
  notAfter: Date;
}

/** DNS names a client may dial: Istio's `istiod.<ns>.svc` and Ambit's own. Pure. */
export function servingDnsNames(namespace: string, extra: readonly string[] = []): string[] {
  const names = [`istiod.${namespace}.svc`, `istiod.${namespace}.svc.cluster.local`, 'ambit-control', `ambit-control.${namespace}.svc`, 'localhost', ...extra];
  return [...new Set(names)];
}

/** IP SANs for a listen host: the host itself, or every local address for a wildcard; loopback always. Pure but for `interfaces`. */
export function servingIpAddresses(listenHost: string, interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  const out = new Set<string>(['127.0.0.1', '::1']);
  if (listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '') {
    for (const list of Object.values(interfaces)) for (const i of list ?? []) out.add(i.address.split('%')[0]!);
  } else if (net.isIP(listenHost)) {
    out.add(listenHost);
  }
  return [...out];
}

export async function issueServingCertificate(ca: CertificateAuthority, id: ServingIdentity, ttlSeconds: number, now = new Date()): Promise<ServingCertificate> {
  const mat = ca.material();
  const keys = await generateKeyPair('ec-p256');
  const identity = formatSpiffeId({ trustDomain: id.trustDomain, namespace: id.namespace, serviceAccount: id.serviceAccount });
  const dnsNames = servingDnsNames(id.namespace, id.extraDnsNames);
  const ipAddresses = servingIpAddresses(id.listenHost);
  const notAfter = new Date(Math.min(now.getTime() + ttlSeconds * 1000, mat.issuerNotAfter.getTime()));
  const leaf = await createLeafCertificate({
    publicKey: keys.publicKey,
    uris: [identity],
    dnsNames,
    ipAddresses,
    issuer: mat.issuer,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
  });
  return {
    certChainPem: [leaf.toString('pem'), ...mat.intermediatesPem.map((p) => p.trim())].join('\n') + '\n',
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    identity,
    dnsNames,
    ipAddresses,
    notAfter,
  };
}

/** Server credentials whose certificate can be replaced while the server runs (new handshakes use it). */
export class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(initial: SecureContextOptions) {
    super({ minVersion: 'TLSv1.2' }, initial);
  }

  rotate(next: SecureContextOptions): void {
    this.updateSecureContextOptions(next);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}

const contextOf = (c: ServingCertificate): SecureContextOptions => ({ cert: c.certChainPem, key: c.keyPem });

/** Issues the serving certificate and renews it at half of its lifetime. */
export class ServingCertificateManager {
  readonly credentials: RotatingServerCredentials;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private current: ServingCertificate,
    private readonly ca: CertificateAuthority,
    private readonly id: ServingIdentity,
    private readonly ttlSeconds: number,
    private readonly log: Logger,
  ) {
    this.credentials = new RotatingServerCredentials(contextOf(current));
    this.schedule();
  }

  static async start(ca: CertificateAuthority, id: ServingIdentity, ttlSeconds: number, log: Logger): Promise<ServingCertificateManager> {
    const cert = await issueServingCertificate(ca, id, ttlSeconds);
    log.info({ identity: cert.identity, dnsNames: cert.dnsNames, ipAddresses: cert.ipAddresses, notAfter: cert.notAfter.toISOString() }, 'issued the control plane serving certificate');
    return new ServingCertificateManager(cert, ca, id, ttlSeconds, log);
  }

  get certificate(): ServingCertificate {
    return this.current;
  }

  private schedule(): void {
    if (this.closed) return;
    const half = Math.max(1000, (this.current.notAfter.getTime() - Date.now()) / 2);
    // setTimeout overflows past 2^31-1 ms (~24.8 days): renew earlier rather than at once.
    this.timer = setTimeout(() => void this.renew(), Math.min(half, 2 ** 31 - 1));
    this.timer.unref();
  }

  async renew(): Promise<void> {
    try {
      const next = await issueServingCertificate(this.ca, this.id, this.ttlSeconds);
      if (this.closed) return;
      this.current = next;
      this.credentials.rotate(contextOf(next));
      this.log.info({ notAfter: next.notAfter.toISOString() }, 'renewed the control plane serving certificate');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'renewing the control plane serving certificate failed; retrying in 1 minute');
      this.timer = setTimeout(() => void this.renew(), 60_000);
      this.timer.unref();
      return;
    }
    this.schedule();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
