// The CA's signing material: a self-signed root generated on first start and kept in the state
// directory, or a user-supplied root / intermediate in Istio's "cacerts" layout.
import path from 'node:path';
import { createRootCertificate, type Issuer } from '../../lib/identity/certgen.js';
import { parseCertificate, parseCertificateChain, verifyChain, type ParsedCertificate } from '../../lib/identity/chain.js';
import { isIdentityError } from '../../lib/identity/errors.js';
import { algorithmsFor, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from '../../lib/identity/keys.js';
import { joinPem } from '../../lib/identity/pem.js';
import { DEFAULT_TRUST_DOMAIN, trustDomainProblem } from '../../lib/identity/spiffe.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';
import { CaError } from './errors.js';
import { ensureDir, fileMode, readIfExists, writeFileAtomic } from '../../lib/sys/atomic-files.js';

/** File names, as in Istio's `cacerts` secret and its self-signed `istio-ca-secret`. */
export const CA_FILES = {
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
} as const;

export interface AuthorityOptions {
  /** State directory; the self-signed root's ca-cert.pem and ca-key.pem (0600) live here. */
  dir: string;
  trustDomain?: string;
  /** Plug-in CA directory (Istio's cacerts layout); default `<dir>/cacerts`. Used when it holds any CA file. */
  cacertsDir?: string;
  /** Validity of a generated root (default 10 years, as Istio's self-signed root). */
  rootValidityDays?: number;
  logger?: Logger;
  now?: () => Date;
}

/** Everything the signer needs; replaced as a whole if the CA is ever rotated. */
export interface SigningMaterial {
  trustDomain: string;
  issuer: Issuer;
  /** Certificates from the signing certificate up to (not including) the root; empty when the root signs. */
  intermediatesPem: string[];
  /** One or more roots concatenated: the last element of every response chain. */
  rootBundlePem: string;
  issuerNotAfter: Date;
}

export type AuthoritySource = 'self-signed' | 'plug-in';

const DAY_MS = 86_400_000;

function configError(message: string): CaError {
  return new CaError('CA_CONFIG', message);
}

export class CertificateAuthority {
  private constructor(
    readonly source: AuthoritySource,
    private readonly mat: SigningMaterial,
    private readonly roots: ParsedCertificate[],
    /** Milliseconds spent generating the root, when this start generated one. */
    readonly rootGenerationMs: number | undefined,
  ) {}

  static async open(opts: AuthorityOptions): Promise<CertificateAuthority> {
    const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    const tdProblem = trustDomainProblem(trustDomain);
    if (tdProblem) throw configError(`CA configuration: ${tdProblem}`);
    const log = opts.logger ?? silentLogger();
    const now = opts.now ?? (() => new Date());
    const cacertsDir = opts.cacertsDir ?? path.join(opts.dir, 'cacerts');
    const plugged = await loadPlugIn(cacertsDir, trustDomain, now());
    if (plugged) {
      log.info({ dir: cacertsDir, issuer: plugged.material.issuer.certificate.subject }, 'CA: using plug-in certificates');
      return new CertificateAuthority('plug-in', plugged.material, plugged.roots, undefined);
    }
    await ensureDir(opts.dir);
    const certFile = path.join(opts.dir, CA_FILES.caCert);
    const keyFile = path.join(opts.dir, CA_FILES.caKey);
    const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
    if (certPem !== undefined || keyPem !== undefined) {
      if (certPem === undefined || keyPem === undefined) {
        const [has, missing] = certPem === undefined ? [keyFile, certFile] : [certFile, keyFile];
        throw configError(`CA state: found ${has} but not ${missing}; restore it, or remove ${has} to generate a new root (every issued certificate then stops verifying)`);
      }
      const mode = await fileMode(keyFile);
      if (mode !== undefined && (mode & 0o077) !== 0) {
        log.warn({ file: keyFile, mode: mode.toString(8) }, 'CA key file is readable by others; chmod 600 it');
      }
      const loaded = await loadSelfSigned(certPem, keyPem, trustDomain, opts.dir, now());
      log.info({ dir: opts.dir, notAfter: loaded.issuerNotAfter.toISOString() }, 'CA: reloaded self-signed root');
      return new CertificateAuthority('self-signed', loaded, [parseCertificate(certPem)], undefined);
    }
    const started = performance.now();
    const generated = await generateRoot(trustDomain, opts.rootValidityDays ?? 3650, now());
    const elapsed = performance.now() - started;
    // Key first: a crash between the two renames leaves a key without a certificate, which the
    // next start reports instead of silently replacing the root.
    await writeFileAtomic(keyFile, generated.keyPem, 0o600);
    await writeFileAtomic(certFile, generated.certPem, 0o644);
    log.info({ dir: opts.dir, ms: Math.round(elapsed), trustDomain }, 'CA: generated a self-signed root');
    const material = await loadSelfSigned(generated.certPem, generated.keyPem, trustDomain, opts.dir, now());
    return new CertificateAuthority('self-signed', material, [parseCertificate(generated.certPem)], elapsed);
  }

  get trustDomain(): string {
    return this.mat.trustDomain;
  }

  material(): SigningMaterial {
    return this.mat;
  }

  /** The root bundle to publish (ConfigMap istio-ca-root-cert, ztunnel's root-cert.pem). */
  rootPem(): string {
    return this.mat.rootBundlePem;
  }

  rootCertificates(): ParsedCertificate[] {
    return [...this.roots];
  }
}

async function generateRoot(trustDomain: string, days: number, now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair('ec-p256');
  const cert = await createRootCertificate({
    subject: `O=${trustDomain}`,
    keys,
    signingAlgorithm: algorithmsFor('ec-p256').sign,
    notBefore: new Date(now.getTime() - 5 * 60_000), // clock skew between nodes
    notAfter: new Date(now.getTime() + days * DAY_MS),
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** Loads a certificate + key pair and checks that they belong together and can sign. */
async function loadIssuer(certPem: string, keyPem: string, certName: string, keyName: string, now: Date): Promise<{ issuer: Issuer; cert: ParsedCertificate }> {
  let cert: ParsedCertificate;
  try {
    cert = parseCertificate(certPem, certName);
  } catch (e) {
    throw configError(`CA configuration: ${(e as Error).message}`);
  }
  if (!cert.isCa) throw configError(`CA configuration: ${certName} is not a CA certificate (basicConstraints CA:TRUE missing)`);
  if (!cert.mayIssue) throw configError(`CA configuration: ${certName} key usage lacks keyCertSign`);
  if (now > cert.notAfter) throw configError(`CA configuration: ${certName} expired at ${cert.notAfter.toISOString()}`);
  let key;
  try {
    key = await importPrivateKeyPem(keyPem, keyName);
  } catch (e) {
    throw configError(`CA configuration: ${(e as Error).message}`);
  }
  if (!key.publicKeyDer.equals(Buffer.from(cert.x509cert.publicKey.rawData))) {
    throw configError(`CA configuration: ${keyName} is not the private key of ${certName}`);
  }
  return { issuer: { certificate: cert.x509cert, privateKey: key.privateKey, signingAlgorithm: key.algorithms.sign }, cert };
}

async function loadSelfSigned(certPem: string, keyPem: string, trustDomain: string, dir: string, now: Date): Promise<SigningMaterial> {
  const certName = path.join(dir, CA_FILES.caCert);
  const { issuer, cert } = await loadIssuer(certPem, keyPem, certName, path.join(dir, CA_FILES.caKey), now);
  return { trustDomain, issuer, intermediatesPem: [], rootBundlePem: cert.pem, issuerNotAfter: cert.notAfter };
}

async function loadPlugIn(dir: string, trustDomain: string, now: Date): Promise<{ material: SigningMaterial; roots: ParsedCertificate[] } | undefined> {
  const file = (name: string): string => path.join(dir, name);
  const [caCert, caKey, rootCert, certChain] = await Promise.all(
    [CA_FILES.caCert, CA_FILES.caKey, CA_FILES.rootCert, CA_FILES.certChain].map((n) => readIfExists(file(n))),
  );
  if ([caCert, caKey, rootCert, certChain].every((x) => x === undefined)) return undefined;
  const missing = [
    [CA_FILES.caCert, caCert],
    [CA_FILES.caKey, caKey],
    [CA_FILES.rootCert, rootCert],
  ].filter(([, v]) => v === undefined).map(([n]) => n);
  if (missing.length) throw configError(`CA plug-in certificates in ${dir}: missing ${missing.join(', ')}`);
  const { issuer, cert } = await loadIssuer(caCert!, caKey!, file(CA_FILES.caCert), file(CA_FILES.caKey), now);
  let roots: ParsedCertificate[];
  let chain: ParsedCertificate[];
  try {
    roots = parseCertificateChain(rootCert!, file(CA_FILES.rootCert));
    chain = certChain === undefined ? [cert] : parseCertificateChain(certChain, file(CA_FILES.certChain));
  } catch (e) {
    throw configError(`CA plug-in certificates: ${(e as Error).message}`);
  }
  // cert-chain.pem usually starts at ca-cert.pem and may end with the root; keep what lies between.
  const isRoot = (c: ParsedCertificate): boolean => roots.some((r) => r.der.equals(c.der));
  const intermediates = chain.filter((c) => !isRoot(c));
  if (!isRoot(cert) && !intermediates[0]?.der.equals(cert.der)) intermediates.unshift(cert);
  if (isRoot(cert)) intermediates.length = 0;
  try {
    await verifyChain(cert, { roots, intermediates, at: now });
  } catch (e) {
    if (!isIdentityError(e)) throw e;
    throw configError(`CA plug-in certificates in ${dir}: ${CA_FILES.caCert} does not chain to ${CA_FILES.rootCert}: ${e.message}`);
  }
  return {
    material: {
      trustDomain,
      issuer,
      intermediatesPem: intermediates.map((c) => c.pem),
      rootBundlePem: joinPem(roots.map((r) => r.pem)),
      issuerNotAfter: cert.notAfter,
    },
    roots,
  };
}
