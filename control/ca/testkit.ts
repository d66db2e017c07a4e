// Helpers shared by the CA's tests: temporary directories and an Istio-style plug-in PKI.
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createIntermediateCertificate, createRootCertificate, type Issuer } from '../../lib/identity/certgen.js';
import { algorithmsFor, exportPrivateKeyPem, generateKeyPair, type KeyKind } from '../../lib/identity/keys.js';
import { joinPem } from '../../lib/identity/pem.js';

const DAY = 86_400_000;

/** A fresh directory under the OS temp dir; the caller removes it (see removeDir). */
export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${prefix}-${process.pid}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface PlugInPki {
  root: Issuer;
  intermediate: Issuer;
  rootPem: string;
  intermediatePem: string;
}

export interface PlugInOptions {
  rootKey?: KeyKind;
  intermediateKey?: KeyKind;
  /** Private key encoding of ca-key.pem, as found in the wild. */
  keyFormat?: 'pkcs8' | 'sec1' | 'pkcs1';
  intermediateDays?: number;
}

/** Generates a root and an intermediate and writes Istio's cacerts files into `dir`. */
export async function writePlugInCerts(dir: string, opts: PlugInOptions = {}): Promise<PlugInPki> {
  const now = Date.now();
  const rootKind = opts.rootKey ?? 'ec-p256';
  const intKind = opts.intermediateKey ?? 'ec-p256';
  const rootKeys = await generateKeyPair(rootKind);
  const rootCert = await createRootCertificate({
    subject: 'O=Istio, CN=Root CA',
    keys: rootKeys,
    signingAlgorithm: algorithmsFor(rootKind).sign,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 3650 * DAY),
  });
  const root: Issuer = { certificate: rootCert, privateKey: rootKeys.privateKey, signingAlgorithm: algorithmsFor(rootKind).sign };
  const intKeys = await generateKeyPair(intKind);
  const intCert = await createIntermediateCertificate({
    subject: 'O=Istio, CN=Intermediate CA, L=cluster1',
    publicKey: intKeys.publicKey,
    issuer: root,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + (opts.intermediateDays ?? 730) * DAY),
  });
  const intermediate: Issuer = { certificate: intCert, privateKey: intKeys.privateKey, signingAlgorithm: algorithmsFor(intKind).sign };
  let keyPem = await exportPrivateKeyPem(intKeys.privateKey);
  if (opts.keyFormat === 'sec1' || opts.keyFormat === 'pkcs1') {
    keyPem = createPrivateKey(keyPem).export({ type: opts.keyFormat, format: 'pem' }) as string;
  }
  const rootPem = rootCert.toString('pem') + '\n';
  const intermediatePem = intCert.toString('pem') + '\n';
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'ca-cert.pem'), intermediatePem);
  await writeFile(path.join(dir, 'ca-key.pem'), keyPem, { mode: 0o600 });
  await writeFile(path.join(dir, 'root-cert.pem'), rootPem);
  // Istio's certificate tooling writes cert-chain.pem as the intermediate followed by the root.
  await writeFile(path.join(dir, 'cert-chain.pem'), joinPem([intermediatePem, rootPem]));
  return { root, intermediate, rootPem, intermediatePem };
}
