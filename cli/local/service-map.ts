// Maps Kubernetes Services and Endpoints onto the service proxy's plain input.
import type { Endpoints, Service } from '../../lib/k8s/types.js';
import type { EndpointSpec, ServiceSpec } from './net/service-rules.js';

export function toProxyInput(services: Service[], endpoints: Endpoints[]): { services: ServiceSpec[]; endpoints: Map<string, EndpointSpec[]> } {
  const out: ServiceSpec[] = [];
  for (const s of services) {
    const ip = s.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    out.push({
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      clusterIP: ip,
      ports: (s.spec.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol === 'UDP' ? 'UDP' : 'TCP',
        // Named target ports are resolved per endpoint (the endpoint's own port list wins).
        targetPort: typeof p.targetPort === 'number' ? p.targetPort : /^\d+$/.test(String(p.targetPort ?? '')) ? Number(p.targetPort) : p.port,
      })),
    });
  }
  const eps = new Map<string, EndpointSpec[]>();
  for (const e of endpoints) {
    const list: EndpointSpec[] = [];
    for (const sub of e.subsets ?? []) {
      const ports = (sub.ports ?? []).map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: (p.protocol === 'UDP' ? 'UDP' : 'TCP') as 'UDP' | 'TCP' }));
      for (const a of sub.addresses ?? []) list.push({ ip: a.ip, ...(ports.length ? { ports } : {}) });
    }
    eps.set(`${e.metadata.namespace}/${e.metadata.name}`, list);
  }
  return { services: out, endpoints: eps };
}
