// Key generation, PEM import/export and key descriptions, on Node's WebCrypto.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { IdentityError } from './errors.js';
import { subtle, type Algorithm, type CryptoKey, type CryptoKeyPair, type EcdsaParams, type EcKeyGenParams, type EcKeyImportParams, type RsaHashedImportParams, type RsaHashedKeyGenParams } from './x509.js';

export type KeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | { rsaBits: number };

/** What a public key is, in terms a policy can check. */
export interface KeyDescription {
  /** 'ec', 'rsa', 'ed25519', … (Node's asymmetricKeyType). */
  type: string;
  /** WebCrypto curve name for EC keys: 'P-256', 'P-384', 'P-521', or the OpenSSL name if unusual. */
  curve?: string;
  /** RSA modulus length in bits. */
  bits?: number;
}

export interface KeyAlgorithms {
  generate: EcKeyGenParams | RsaHashedKeyGenParams;
  import: EcKeyImportParams | RsaHashedImportParams;
  /** Parameters for signing with this key (certificates, CSRs). */
  sign: EcdsaParams | Algorithm;
}

const RSA = 'RSASSA-PKCS1-v1_5';
const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };
const CURVE_HASH: Record<string, string> = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' };

function ec(curve: string): KeyAlgorithms {
  const hash = CURVE_HASH[curve] ?? 'SHA-256';
  return {
    generate: { name: 'ECDSA', namedCurve: curve },
    import: { name: 'ECDSA', namedCurve: curve },
    sign: { name: 'ECDSA', hash } as EcdsaParams,
  };
}

function rsa(bits: number): KeyAlgorithms {
  return {
    generate: { name: RSA, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    import: { name: RSA, hash: 'SHA-256' },
    sign: { name: RSA },
  };
}

export function algorithmsFor(kind: KeyKind): KeyAlgorithms {
  if (typeof kind === 'object') return rsa(kind.rsaBits);
  switch (kind) {
    case 'ec-p256':
      return ec('P-256');
    case 'ec-p384':
      return ec('P-384');
    case 'rsa-2048':
      return rsa(2048);
    case 'rsa-3072':
      return rsa(3072);
    case 'rsa-4096':
      return rsa(4096);
  }
}

/** Algorithms for an existing key, from its description. */
export function algorithmsForKey(desc: KeyDescription): KeyAlgorithms {
  if (desc.type === 'ec' && desc.curve && CURVE_HASH[desc.curve]) return ec(desc.curve);
  if (desc.type === 'rsa' && desc.bits) return rsa(desc.bits);
  throw new IdentityError('KEY_UNSUPPORTED', `unsupported key ${describeKey(desc)}: use ECDSA P-256/P-384 or RSA`);
}

export async function generateKeyPair(kind: KeyKind = 'ec-p256'): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(algorithmsFor(kind).generate, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function describeKeyObject(key: KeyObject): KeyDescription {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  const desc: KeyDescription = { type };
  if (details.namedCurve) desc.curve = CURVES[details.namedCurve] ?? details.namedCurve;
  if (details.modulusLength) desc.bits = details.modulusLength;
  return desc;
}

/** Describes a public key given as SubjectPublicKeyInfo DER. */
export function describePublicKey(spkiDer: Uint8Array | ArrayBuffer): KeyDescription {
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer as ArrayBuffer), format: 'der', type: 'spki' });
    return describeKeyObject(key);
  } catch (e) {
    throw new IdentityError('KEY_INVALID', `public key cannot be read: ${(e as Error).message}`);
  }
}

/**
 * Describes a key from the WebCrypto algorithm @peculiar/x509 already decoded, which saves
 * re-parsing the key in Node; undefined for anything but ECDSA and RSA.
 */
export function describeParsedAlgorithm(alg: { name?: string; namedCurve?: unknown; modulusLength?: unknown }): KeyDescription | undefined {
  if (alg.name === 'ECDSA' && typeof alg.namedCurve === 'string') return { type: 'ec', curve: alg.namedCurve };
  if ((alg.name === 'RSASSA-PKCS1-v1_5' || alg.name === 'RSA-PSS') && typeof alg.modulusLength === 'number') {
    return { type: 'rsa', bits: alg.modulusLength };
  }
  return undefined;
}

export function describeKey(desc: KeyDescription): string {
  if (desc.type === 'ec') return `ECDSA ${desc.curve ?? 'unknown curve'}`;
  if (desc.type === 'rsa') return `RSA ${desc.bits ?? '?'} bits`;
  return desc.type;
}

/** PKCS#8 PEM ("PRIVATE KEY"), the form TLS contexts and Istio's tooling accept. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface ImportedPrivateKey {
  privateKey: CryptoKey;
  description: KeyDescription;
  algorithms: KeyAlgorithms;
  /** SubjectPublicKeyInfo DER of the matching public key, to compare with a certificate. */
  publicKeyDer: Buffer;
}

/**
 * Imports a private key PEM in any of the forms found in the wild (PKCS#8, SEC1 "EC PRIVATE KEY",
 * PKCS#1 "RSA PRIVATE KEY"); WebCrypto itself reads only PKCS#8, so Node converts first.
 */
export async function importPrivateKeyPem(pem: string, what = 'private key'): Promise<ImportedPrivateKey> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new IdentityError('KEY_INVALID', `${what} is not a readable PEM private key: ${(e as Error).message}`);
  }
  const description = describeKeyObject(keyObject);
  const algorithms = algorithmsForKey(description);
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, algorithms.import, false, ['sign']);
  const publicKeyDer = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
  return { privateKey, description, algorithms, publicKeyDer };
}
