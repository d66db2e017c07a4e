// The control plane's certificate service, as ztunnel and the waypoint call it: gRPC over TLS,
// /istio.v1.auth.IstioCertificateService/CreateCertificate, with the node credential as a bearer
// token and the workload's identity as ImpersonatedIdentity.
import * as grpc from '@grpc/grpc-js';
import { createGrpcClient, type ClientOf } from '../proto/grpc.js';
import { IstioCertificateService } from '../proto/gen/istio/v1/auth/ca_pb.js';

export interface CertificateRequest {
  identity: string;
  csrPem: string;
  /** Requested validity (IstioCertificateRequest.validity_duration); the CA may cap it. */
  ttlSeconds: number;
}

/** What the secret manager needs from a CA; the gRPC one below, or a fake in tests. */
export interface CaClient {
  /** Istio's cert_chain: leaf, intermediates, root bundle last. Rejects with CaRequestError. */
  createCertificate(req: CertificateRequest): Promise<string[]>;
}

/** REFUSED: the CA said no (its reason is in the message). UNAVAILABLE: it could not be reached. */
export type CaRequestErrorCode = 'REFUSED' | 'UNAVAILABLE' | 'FAILED';

export class CaRequestError extends Error {
  constructor(
    readonly code: CaRequestErrorCode,
    message: string,
    readonly grpcCode?: number,
  ) {
    super(message);
    this.name = 'CaRequestError';
  }
}

export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

export interface GrpcCaClientOptions {
  /** host:port of the control plane, e.g. ambit-control.ambit-system.svc:15012. */
  address: string;
  /** PEM root(s) that sign the control plane's serving certificate. */
  rootsPem: string;
  /** The node credential; a function is called for every request (tokens get re-read, like Istio's). */
  credential: string | (() => string | Promise<string>);
  /** Name to verify in the server certificate instead of the host in `address`. */
  serverName?: string;
  /** Sent as the `clusterid` header (Istio default "Kubernetes"). */
  clusterId?: string;
  /** Per-request deadline (default 10 s). */
  timeoutMs?: number;
  /** Extra grpc-js channel options (e.g. reconnect backoff). */
  channelOptions?: grpc.ChannelOptions;
}

const UNAVAILABLE_CODES = new Set<number>([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED, grpc.status.RESOURCE_EXHAUSTED]);
const REFUSED_CODES = new Set<number>([grpc.status.INVALID_ARGUMENT, grpc.status.PERMISSION_DENIED, grpc.status.UNAUTHENTICATED, grpc.status.FAILED_PRECONDITION]);

function isServiceError(e: unknown): e is grpc.ServiceError {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' && 'details' in e;
}

export class GrpcCaClient implements CaClient {
  private readonly client: ClientOf<typeof IstioCertificateService>;
  private readonly timeoutMs: number;

  constructor(private readonly opts: GrpcCaClientOptions) {
    const options: grpc.ChannelOptions = { ...opts.channelOptions };
    if (opts.serverName) {
      options['grpc.ssl_target_name_override'] = opts.serverName;
      options['grpc.default_authority'] = opts.serverName;
    }
    this.client = createGrpcClient(IstioCertificateService, opts.address, grpc.credentials.createSsl(Buffer.from(opts.rootsPem)), options);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  async createCertificate(req: CertificateRequest): Promise<string[]> {
    const cred = typeof this.opts.credential === 'function' ? await this.opts.credential() : this.opts.credential;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${cred}`);
    if (this.opts.clusterId) md.set('clusterid', this.opts.clusterId);
    // Istio carries the identity in the request's metadata Struct; the header copy lets a server
    // that reads gRPC metadata find it too.
    md.set(IMPERSONATED_IDENTITY.toLowerCase(), req.identity);
    try {
      const res = await this.client.createCertificate(
        { csr: req.csrPem, validityDuration: BigInt(req.ttlSeconds), metadata: { [IMPERSONATED_IDENTITY]: req.identity } },
        md,
        { deadline: Date.now() + this.timeoutMs },
      );
      return res.certChain;
    } catch (e) {
      throw this.describe(e, req.identity);
    }
  }

  close(): void {
    this.client.$client.close();
  }

  private describe(e: unknown, identity: string): CaRequestError {
    const where = `CA at ${this.opts.address}`;
    if (!isServiceError(e)) return new CaRequestError('FAILED', `${where}: certificate request for ${identity} failed: ${(e as Error).message}`);
    const name = grpc.status[e.code] ?? String(e.code);
    if (UNAVAILABLE_CODES.has(e.code)) {
      return new CaRequestError('UNAVAILABLE', `${where} is unreachable (${name}: ${e.details}); is the control plane running and port 15012 open?`, e.code);
    }
    if (REFUSED_CODES.has(e.code)) return new CaRequestError('REFUSED', `${where} refused a certificate for ${identity}: ${e.details} (${name})`, e.code);
    return new CaRequestError('FAILED', `${where} failed to issue a certificate for ${identity}: ${e.details} (${name})`, e.code);
  }
}
