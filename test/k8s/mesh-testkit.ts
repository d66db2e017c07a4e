/**
 * Helpers for the components in Kubernetes mode against the tier-4 apiserver: objects as a real
 * cluster has them (a Pod scheduled by setting spec.nodeName and "started" by writing its status
 * through the status subresource, since no kubelet runs), control planes in process on the
 * apiserver, pod-bound service-account tokens, and a certificate client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startControlPlane, type ControlPlane } from '../../control/app.js';
import { resolveConfig, type Config } from '../../control/config.js';
import { generateCsr } from '../../lib/identity/csr.js';
import { IstioCertificateService } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import { createGrpcClient, type ClientOf } from '../../lib/proto/grpc.js';
import type { KubeStore } from '../../lib/store/kube.js';
import { requestToken } from '../../lib/store/kube-tokens.js';
import type { KubeObject } from '../../lib/store/types.js';
import { LogCapture } from '../integration/testkit/control.js';
import type { TestCluster } from './testkit.js';

export interface Scope {
  teardown(fn: () => unknown): void;
}

export const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
export const NS = { apiVersion: 'v1', kind: 'Namespace' } as const;

export async function ensureNamespace(store: KubeStore, name: string, labels: Record<string, string> = {}): Promise<void> {
  await store.apply({ ...NS, metadata: { name, labels } });
}

export async function ensureServiceAccount(store: KubeStore, namespace: string, name: string): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } });
}

export interface PodSpecOptions {
  serviceAccount?: string;
  node: string;
  ip?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Node object: without one the pod garbage collector deletes the pods bound to that name. */
export async function ensureNode(store: KubeStore, name: string): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
}

/** Deletes a pod at once: without a kubelet a graceful deletion of a scheduled pod never finishes. */
export async function forceDeletePod(store: KubeStore, namespace: string, name: string): Promise<void> {
  await store.client.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}/pods/${name}`, body: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 } });
}

/** Creates a pod on `node` and, with `ip`, gives it a Running status as a kubelet would. */
export async function createPod(store: KubeStore, namespace: string, name: string, o: PodSpecOptions): Promise<KubeObject> {
  if (o.serviceAccount) await ensureServiceAccount(store, namespace, o.serviceAccount);
  await ensureNode(store, o.node);
  const created = await store.create({
    ...POD,
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: { nodeName: o.node, ...(o.serviceAccount ? { serviceAccountName: o.serviceAccount } : {}), containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }] },
  });
  if (!o.ip) return created;
  return store.patch({ ...POD, namespace, name }, { status: { phase: 'Running', podIP: o.ip, podIPs: [{ ip: o.ip }], conditions: [{ type: 'Ready', status: 'True' }] } });
}

/** A service-account token for `audience`, bound to `pod` (as a projected volume's token is). */
export async function podToken(store: KubeStore, pod: KubeObject, audience: string): Promise<string> {
  const sa = (pod.spec as { serviceAccountName?: string }).serviceAccountName ?? 'default';
  const { token } = await requestToken(store.client, {
    namespace: pod.metadata.namespace!,
    serviceAccount: sa,
    audiences: [audience],
    expirationSeconds: 3600,
    boundObject: { kind: 'Pod', name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
  });
  return token;
}

export interface Plane {
  plane: ControlPlane;
  config: Config;
  log: LogCapture;
}

/** A control plane in process on the test apiserver; closed in the test's teardown unless already. */
export async function startKubePlane(t: Scope, cluster: TestCluster, id: string, tune: (c: Config) => Config = (c) => c): Promise<Plane> {
  const stateDir = mkdtempSync(path.join(tmpdir(), `ambit-kplane-${process.pid}-`));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const log = new LogCapture();
  const base = resolveConfig(
    { kubeconfig: cluster.kubeconfig, stateDir, grpcAddress: '127.0.0.1:0', monitoringAddress: '127.0.0.1:0', readinessAddress: '127.0.0.1:0', dashboardAddress: '127.0.0.1:0', debounceQuiet: '20ms', debounceMax: '200ms' },
    {},
  );
  const config = tune({ ...base, controlPlaneId: id });
  const plane = await startControlPlane(config, { logger: log.logger.child({ plane: id }) });
  t.teardown(() => plane.close());
  return { plane, config, log };
}

export type CaClient = ClientOf<typeof IstioCertificateService>;

export function caClient(t: Scope, plane: ControlPlane): CaClient {
  // Dial by address but verify the name clients use, as ztunnel does with istiod.istio-system.svc.
  const c = createGrpcClient(IstioCertificateService, plane.addresses.grpc, grpc.credentials.createSsl(Buffer.from(plane.rootCertPem)), {
    'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
  });
  t.teardown(() => c.$client.close());
  return c;
}

export type CertOutcome = { ok: true; chain: string[] } | { ok: false; code: number; details: string; errorCode: unknown };

/** Asks for `identity` with `token`, on the pod's behalf (ImpersonatedIdentity) unless `own`. */
export async function askCertificate(ca: CaClient, identity: string, token: string, own = false): Promise<CertOutcome> {
  const csr = await generateCsr(identity);
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  try {
    const res = await ca.createCertificate({ csr: csr.csrPem, validityDuration: 3600n, ...(own ? {} : { metadata: { ImpersonatedIdentity: identity } }) }, md);
    return { ok: true, chain: res.certChain };
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { ok: false, code: err.code, details: err.details, errorCode: err.metadata?.get('ambit-error-code')[0] };
  }
}

export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const started = performance.now();
  while (!(await cond())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return performance.now() - started;
}
