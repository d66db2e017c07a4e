// What every per-pod proxy is given: the shared inputs (state, certificates, telemetry, live
// connections) and the pod it serves. Built by the composition root.
import type net from 'node:net';
import type { HbonePool } from '../../lib/hbone/pool.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import type { SockAddr } from '../../lib/native/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { Tracer } from '../../lib/telemetry/tracing.js';
import type { StateView } from '../state/view.js';
import type { ConnectionManager } from './connection-manager.js';
import type { LocalPods } from './local-pods.js';
import type { PodNet } from './sockets.js';
import type { ProxyTelemetry } from './telemetry.js';

/** Certificates by SPIFFE id (the SecretManager). */
export interface CertificateSource {
  get(identity: string): Promise<Credentials>;
}

export interface ProxyInputs {
  state: StateView;
  certs: CertificateSource;
  telemetry: ProxyTelemetry;
  connections: ConnectionManager;
  logger: Logger;
  /** SO_ORIGINAL_DST of a redirected connection. */
  originalDst(socket: net.Socket): SockAddr;
  /** How long outbound waits for its own pod to appear in xDS (Istio: 5 s). */
  sourceWaitMs: number;
  /** TCP/HBONE connect timeout (Istio: 10 s). */
  connectTimeoutMs: number;
  /** The pods served by this ztunnel, for the same-node handoff; absent: every hop is HBONE. */
  localPods?: LocalPods;
  /** Absent when tracing is off: then no span work at all. */
  tracer?: Tracer;
}

/** The pod a proxy instance serves (from ZDS), and its namespace's sockets. */
export interface PodContext {
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
  /** spiffe://<trust domain>/ns/<namespace>/sa/<service account>. */
  identity: string;
  net: PodNet;
  /** This pod's HBONE connections (one pool per proxied pod, as ztunnel). */
  pool: HbonePool;
}
