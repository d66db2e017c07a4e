// Builders for the L7 compiler's tests: a small cluster with a waypoint, and the L7 kinds.
import type { KubeObject } from '../../../lib/store/types.js';
import { gw, ns, svc } from '../testkit.js';
import { buildL7Model } from './index.js';
import type { L7Model, L7Options, L7Snapshot } from './types.js';

type Meta = { creationTimestamp?: string; annotations?: Record<string, string> };

/**
 * Namespace `app` bound to waypoint `app/waypoint`; Services `web` (80, 8080), `api` (80) and
 * `reviews` (9080) there; Service `lone` in namespace `plain`, which has no waypoint.
 */
export function cluster(): Required<Pick<L7Snapshot, 'namespaces' | 'services' | 'gateways'>> {
  return {
    namespaces: [ns('app', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }), ns('plain'), ns('istio-system')],
    gateways: [gw('app', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.app.svc.cluster.local' }] })],
    services: [
      svc('app', 'web', { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'http-alt', port: 8080 }] }),
      svc('app', 'api', { clusterIP: '10.96.0.11' }),
      svc('app', 'reviews', { clusterIP: '10.96.0.12', ports: [{ name: 'http', port: 9080 }] }),
      svc('plain', 'lone', { clusterIP: '10.96.0.13' }),
    ],
  };
}

function obj(apiVersion: string, kind: string, namespace: string, name: string, spec: Record<string, unknown>, m: Meta = {}): KubeObject {
  return { apiVersion, kind, metadata: { name, namespace, ...m }, spec };
}

export const httpRoute = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('gateway.networking.k8s.io/v1', 'HTTPRoute', namespace, name, spec, m);
export const grpcRoute = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('gateway.networking.k8s.io/v1', 'GRPCRoute', namespace, name, spec, m);
export const virtualService = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('networking.istio.io/v1', 'VirtualService', namespace, name, spec, m);
export const destinationRule = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('networking.istio.io/v1', 'DestinationRule', namespace, name, spec, m);
export const authorizationPolicy = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('security.istio.io/v1', 'AuthorizationPolicy', namespace, name, spec, m);
export const rateLimitPolicy = (namespace: string, name: string, spec: Record<string, unknown>, m?: Meta): KubeObject =>
  obj('ratelimit.ambit.dev/v1alpha1', 'RateLimitPolicy', namespace, name, spec, m);

/** A Service parentRef, as GAMMA routes write it. */
export const serviceParent = (name: string, port?: number): Record<string, unknown> => ({ group: '', kind: 'Service', name, ...(port ? { port } : {}) });

export function compile(extra: Omit<L7Snapshot, 'namespaces' | 'services' | 'gateways'> & Partial<L7Snapshot>, options?: L7Options): L7Model {
  return buildL7Model({ ...cluster(), ...extra }, options);
}

/** The one condition of `type` on an object, for assertions. */
export function condition(model: L7Model, key: string, type: string): { status: string; reason: string; message: string } | undefined {
  return model.status.get(key)?.conditions.find((c) => c.type === type);
}
