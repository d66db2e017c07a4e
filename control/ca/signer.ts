// Turns a validated CSR into a workload certificate chain, as Istio's CA does.
import { createLeafCertificate } from '../../lib/identity/certgen.js';
import { verifyCsr, type VerifiedCsr } from '../../lib/identity/csr.js';
import { isIdentityError, type IdentityErrorCode } from '../../lib/identity/errors.js';
import { parseSpiffeId } from '../../lib/identity/spiffe.js';
import type { SigningMaterial } from './authority.js';
import { CaError, type CaErrorCode } from './errors.js';

export const DEFAULT_WORKLOAD_TTL_SECONDS = 24 * 3600;
export const DEFAULT_MAX_WORKLOAD_TTL_SECONDS = 90 * 24 * 3600;

export interface SignerOptions {
  /** TTL when the request gives none (Istio: 24 h). */
  defaultTtlSeconds?: number;
  /** Longer requests are capped to this (Istio: 90 days). */
  maxTtlSeconds?: number;
  /** notBefore is this far in the past, for clock skew between nodes (default 60 s). */
  backdateSeconds?: number;
  /** Minimum RSA key size in CSRs; 0 refuses RSA (default 2048). */
  minRsaBits?: number;
  /** EC curves accepted in CSRs (default P-256). */
  curves?: string[];
  now?: () => Date;
}

export interface SignRequest {
  csrPem: string;
  ttlSeconds?: number;
  /** The identity the caller is allowed to get; the CSR's SAN must equal it. */
  identity?: string;
}

export interface SignedCertificate {
  /** Leaf, intermediates, root bundle: Istio's IstioCertificateResponse.cert_chain. */
  certChain: string[];
  leafPem: string;
  identity: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** The TTL used after applying the default and the cap. */
  ttlSeconds: number;
}

export interface MaterialSource {
  material(): SigningMaterial;
}

const CSR_CODES: Partial<Record<IdentityErrorCode, CaErrorCode>> = {
  CSR_KEY_UNSUPPORTED: 'CSR_KEY_UNSUPPORTED',
  CSR_SANS: 'CSR_SANS',
  CSR_TRUST_DOMAIN: 'TRUST_DOMAIN_MISMATCH',
  CSR_BAD_SIGNATURE: 'CSR_BAD_SIGNATURE',
};

/** Applies the default and the cap; refuses negative and fractional values. Pure. */
export function resolveTtl(requested: number | undefined, defaults: { defaultTtlSeconds: number; maxTtlSeconds: number }): { ttlSeconds: number; capped: boolean } {
  if (requested === undefined || requested === 0) {
    return { ttlSeconds: Math.min(defaults.defaultTtlSeconds, defaults.maxTtlSeconds), capped: false };
  }
  if (!Number.isSafeInteger(requested) || requested < 0) {
    throw new CaError('TTL_INVALID', `requested validity ${requested} s is not a non-negative whole number of seconds`);
  }
  if (requested > defaults.maxTtlSeconds) return { ttlSeconds: defaults.maxTtlSeconds, capped: true };
  return { ttlSeconds: requested, capped: false };
}

export class Signer {
  private readonly defaultTtl: number;
  private readonly maxTtl: number;
  private readonly backdateMs: number;
  private readonly now: () => Date;

  constructor(
    private readonly ca: MaterialSource,
    private readonly opts: SignerOptions = {},
  ) {
    this.defaultTtl = opts.defaultTtlSeconds ?? DEFAULT_WORKLOAD_TTL_SECONDS;
    this.maxTtl = opts.maxTtlSeconds ?? DEFAULT_MAX_WORKLOAD_TTL_SECONDS;
    this.backdateMs = (opts.backdateSeconds ?? 60) * 1000;
    this.now = opts.now ?? (() => new Date());
    if (!(this.defaultTtl > 0 && this.maxTtl > 0)) throw new CaError('CA_CONFIG', 'signer TTLs must be positive');
  }

  get trustDomain(): string {
    return this.ca.material().trustDomain;
  }

  /** Parses and checks a CSR: signature, key type and size, exactly one SPIFFE SAN in our trust domain. */
  async validate(csrPem: string): Promise<VerifiedCsr> {
    try {
      return await verifyCsr(csrPem, {
        trustDomain: this.trustDomain,
        minRsaBits: this.opts.minRsaBits ?? 2048,
        curves: this.opts.curves ?? ['P-256'],
      });
    } catch (e) {
      if (!isIdentityError(e)) throw e;
      throw new CaError(CSR_CODES[e.code] ?? 'CSR_INVALID', e.message);
    }
  }

  /** Signs a CSR that `validate` accepted, for `identity` (default: the CSR's own SAN). */
  async signVerified(csr: VerifiedCsr, req: { ttlSeconds?: number; identity?: string }): Promise<SignedCertificate> {
    const mat = this.ca.material();
    if (req.identity !== undefined && req.identity !== csr.identity.uri) {
      let wanted;
      try {
        wanted = parseSpiffeId(req.identity);
      } catch (e) {
        throw new CaError('IDENTITY_INVALID', (e as Error).message);
      }
      if (wanted.trustDomain !== mat.trustDomain) {
        throw new CaError('TRUST_DOMAIN_MISMATCH', `identity ${wanted.uri} is in trust domain "${wanted.trustDomain}"; this CA signs only for "${mat.trustDomain}"`);
      }
      throw new CaError('IDENTITY_MISMATCH', `CSR asks for ${csr.identity.uri} but the request is for ${wanted.uri}`);
    }
    const { ttlSeconds } = resolveTtl(req.ttlSeconds, { defaultTtlSeconds: this.defaultTtl, maxTtlSeconds: this.maxTtl });
    const now = this.now().getTime();
    const notBefore = new Date(now - this.backdateMs);
    // A leaf never outlives the certificate that signed it.
    const notAfter = new Date(Math.min(now + ttlSeconds * 1000, mat.issuerNotAfter.getTime()));
    let leaf;
    try {
      leaf = await createLeafCertificate({ publicKey: csr.request.publicKey, uris: [csr.identity.uri], issuer: mat.issuer, notBefore, notAfter });
    } catch (e) {
      throw new CaError('SIGNING_FAILED', `signing a certificate for ${csr.identity.uri} failed: ${(e as Error).message}`);
    }
    const leafPem = leaf.toString('pem') + '\n';
    return {
      certChain: [leafPem, ...mat.intermediatesPem, mat.rootBundlePem],
      leafPem,
      identity: csr.identity.uri,
      serialNumber: leaf.serialNumber,
      notBefore,
      notAfter,
      ttlSeconds,
    };
  }

  async sign(req: SignRequest): Promise<SignedCertificate> {
    const csr = await this.validate(req.csrPem);
    return this.signVerified(csr, req);
  }
}
