// `istio.v1.auth.IstioCertificateService/CreateCertificate` over gRPC: the wire in, one
// CertificateService call, the wire out. Refusals carry the CaError's status code, its message
// (which says why) and its stable code in the `ambit-error-code` trailer.
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import type { JsonObject } from '@bufbuild/protobuf';
import { IstioCertificateResponseSchema, IstioCertificateService, type IstioCertificateRequest } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import { addGrpcService } from '../../lib/proto/grpc.js';
import { CaError } from '../ca/errors.js';
import type { CertificateService, CreateCertificateRequest, CreateCertificateResult } from '../ca/service.js';

/** Istio's key in IstioCertificateRequest.metadata for a node agent asking on a pod's behalf. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';
export const ERROR_CODE_TRAILER = 'ambit-error-code';

/** The bearer credential of a call: the first `authorization` metadata value, or ''. */
export function credentialOf(md: grpc.Metadata): string {
  const v = md.get('authorization')[0];
  return typeof v === 'string' ? v : v ? v.toString('utf8') : '';
}

/** Turns the wire request into the service's request; a malformed field is a CaError. Pure. */
export function toServiceRequest(req: IstioCertificateRequest, credential: string, peer: string): CreateCertificateRequest {
  const meta: JsonObject = req.metadata ?? {};
  const imp = meta[IMPERSONATED_IDENTITY];
  if (imp !== undefined && imp !== null && typeof imp !== 'string') {
    throw new CaError('IDENTITY_INVALID', `metadata.${IMPERSONATED_IDENTITY} must be a string SPIFFE id, got ${JSON.stringify(imp)}`);
  }
  const seconds = req.validityDuration;
  if (seconds < 0n || seconds > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CaError('TTL_INVALID', `validity_duration ${seconds} s is out of range; ask for 0 (the default) or a positive number of seconds`);
  }
  return {
    credential,
    csrPem: req.csr,
    ...(seconds > 0n ? { validitySeconds: Number(seconds) } : {}),
    ...(typeof imp === 'string' && imp !== '' ? { impersonatedIdentity: imp } : {}),
    peer: { address: peer },
  };
}

export interface CertificateGrpcOptions {
  /** Called once per request with its outcome and duration (metrics). */
  onResult?: (result: CreateCertificateResult, ms: number) => void;
}

function refusal(error: CaError): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_TRAILER, error.code);
  return { code: error.grpcStatus, details: error.message, metadata };
}

export function registerCertificateService(server: grpc.Server, service: CertificateService, opts: CertificateGrpcOptions = {}): void {
  addGrpcService(server, IstioCertificateService, {
    createCertificate: (call, callback) => {
      const started = performance.now();
      const finish = (result: CreateCertificateResult): void => {
        opts.onResult?.(result, performance.now() - started);
        if (result.ok) callback(null, create(IstioCertificateResponseSchema, { certChain: result.certChain }));
        else callback(refusal(result.error));
      };
      let req: CreateCertificateRequest;
      try {
        req = toServiceRequest(call.request, credentialOf(call.metadata), call.getPeer());
      } catch (e) {
        finish({ ok: false, error: e instanceof CaError ? e : new CaError('CSR_INVALID', (e as Error).message) });
        return;
      }
      service.handleCreateCertificate(req).then(finish, (e: unknown) => {
        finish({ ok: false, error: new CaError('SIGNING_FAILED', `certificate request failed unexpectedly: ${(e as Error).message}`) });
      });
    },
  });
}
