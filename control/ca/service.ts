// CreateCertificate as one call: authenticate → validate the CSR → authorize the identity → sign.
// The gRPC layer only maps the result: ok → cert_chain, error → GRPC_STATUS[error.kind].
import type { SpiffeId } from '../../lib/identity/spiffe.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';
import { describeCaller, type Authenticator, type Caller, type PeerInfo } from './authn.js';
import { CaError, isCaError } from './errors.js';
import type { Signer } from './signer.js';

export interface CreateCertificateRequest {
  /** The bearer token (with or without the "Bearer " prefix). */
  credential: string;
  csrPem: string;
  /** IstioCertificateRequest.validity_duration, seconds; 0 or absent means the default. */
  validitySeconds?: number;
  /** metadata.ImpersonatedIdentity: the identity a node agent asks for on a pod's behalf. */
  impersonatedIdentity?: string;
  peer?: PeerInfo;
}

export type CreateCertificateResult =
  | { ok: true; certChain: string[]; identity: string; caller: Caller; serialNumber: string; notAfter: Date }
  | { ok: false; error: CaError };

export interface IdentityAuthorizer {
  authorize(caller: Caller, identity: string): Promise<SpiffeId>;
}

export interface CertificateServiceDeps {
  authenticator: Authenticator;
  authorizer: IdentityAuthorizer;
  signer: Signer;
  logger?: Logger;
}

export class CertificateService {
  private readonly log: Logger;

  constructor(private readonly deps: CertificateServiceDeps) {
    this.log = deps.logger ?? silentLogger();
  }

  async handleCreateCertificate(req: CreateCertificateRequest): Promise<CreateCertificateResult> {
    let caller: Caller | undefined;
    try {
      caller = await this.deps.authenticator.authenticate(req.credential, req.peer);
      const csr = await this.deps.signer.validate(req.csrPem);
      const wanted = req.impersonatedIdentity || csr.identity.uri;
      await this.deps.authorizer.authorize(caller, wanted);
      const signed = await this.deps.signer.signVerified(csr, {
        identity: wanted,
        ...(req.validitySeconds !== undefined ? { ttlSeconds: req.validitySeconds } : {}),
      });
      this.log.info(
        { caller: describeCaller(caller), identity: signed.identity, serial: signed.serialNumber, notAfter: signed.notAfter.toISOString() },
        'CA: issued certificate',
      );
      return { ok: true, certChain: signed.certChain, identity: signed.identity, caller, serialNumber: signed.serialNumber, notAfter: signed.notAfter };
    } catch (e) {
      const error = isCaError(e) ? e : new CaError('SIGNING_FAILED', `certificate request failed unexpectedly: ${(e as Error).message}`);
      const fields = { code: error.code, caller: caller ? describeCaller(caller) : undefined, peer: req.peer?.address, reason: error.message };
      if (error.kind === 'internal') this.log.error(fields, 'CA: request failed');
      else this.log.warn(fields, 'CA: request refused');
      return { ok: false, error };
    }
  }
}
