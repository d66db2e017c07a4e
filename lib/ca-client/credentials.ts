// A workload certificate as the proxies (ztunnel, waypoint) use it, built from a CreateCertificate response and checked:
// the leaf names the identity we asked for, carries our public key, and chains to the roots sent.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { splitCertChainResponse, verifyChain } from '../identity/chain.js';

/**
 * Immutable. Connections keep the object they handshook with; a rotation makes a new one, so nothing
 * in use is ever changed or thrown away under a live connection.
 */
export interface Credentials {
  /** SPIFFE id, e.g. spiffe://cluster.local/ns/demo/sa/backend. */
  readonly identity: string;
  /** What a TLS peer presents: the leaf first, then intermediates. */
  readonly certChainPem: string[];
  /** PKCS#8 PEM private key. */
  readonly keyPem: string;
  /** Trust anchors from the response's root bundle, one PEM each. */
  readonly rootsPem: string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
}

export class CredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialsError';
  }
}

function spkiOf(key: KeyObject | string): Buffer {
  const pub = typeof key === 'string' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

/** Parses and checks a response chain for `identity`; throws CredentialsError saying what is wrong. */
export async function credentialsFromResponse(identity: string, certChain: readonly string[], keyPem: string, at: Date): Promise<Credentials> {
  let parts;
  try {
    parts = splitCertChainResponse(certChain);
  } catch (e) {
    throw new CredentialsError(`CA response for ${identity} is unusable: ${(e as Error).message}`);
  }
  const { leaf, intermediates, roots } = parts;
  const got = leaf.uris[0];
  if (got !== identity) {
    throw new CredentialsError(`CA returned a certificate for ${got ?? '(no URI SAN)'} but ${identity} was requested`);
  }
  if (!spkiOf(leaf.node.publicKey).equals(spkiOf(keyPem))) {
    throw new CredentialsError(`CA returned a certificate for ${identity} whose key is not the one in our CSR`);
  }
  try {
    await verifyChain(leaf, { roots, intermediates, at });
  } catch (e) {
    throw new CredentialsError(`CA returned a certificate for ${identity} that does not verify: ${(e as Error).message}`);
  }
  return Object.freeze({
    identity,
    certChainPem: Object.freeze([leaf.pem, ...intermediates.map((c) => c.pem)]) as string[],
    keyPem,
    rootsPem: Object.freeze(roots.map((r) => r.pem)) as string[],
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    serialNumber: leaf.serialNumber,
  });
}
