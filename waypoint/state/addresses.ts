// istio.workload.Address → the ServiceInfo / EndpointInfo of types.ts. Pure. A value the waypoint
// could not use throws an error naming the resource and field, so the response is NACKed and the
// last good state stays in force.
//
// Subsets select endpoints by pod labels, which Istio's Workload message does not carry. The
// waypoint takes them from an Extension named `ambit.dev/labels` (a google.protobuf.Struct of
// strings) when the control plane sends one, and always adds what Workload does carry:
// `app` / `service.istio.io/canonical-name` from canonical_name and `version` /
// `service.istio.io/canonical-revision` from canonical_revision (Istio derives canonical_revision
// from the `version` label, so `subsets: [{labels: {version: v2}}]` works either way).
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { StructSchema, type Struct } from '@bufbuild/protobuf/wkt';
import ipaddr from 'ipaddr.js';
import { AppProtocol, WorkloadStatus, type Address, type Service, type Workload } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import type { AppProtocolName, EndpointInfo, ServiceInfo } from './types.js';

export const LABELS_EXTENSION = 'ambit.dev/labels';

function fail(resource: string, field: string, why: string): never {
  throw new Error(`Address "${resource}": ${field}: ${why}`);
}

function ipText(b: Uint8Array, resource: string, field: string): string {
  if (b.length !== 4 && b.length !== 16) fail(resource, field, `address has ${b.length} bytes (expected 4 or 16)`);
  const a = ipaddr.fromByteArray([...b]);
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address().toString() : a.toString();
}

function appProtocol(v: number): AppProtocolName {
  const n = AppProtocol[v];
  return (typeof n === 'string' ? n : 'UNKNOWN') as AppProtocolName;
}

export function serviceInfo(resource: string, s: Service): ServiceInfo {
  if (!s.hostname) fail(resource, 'service.hostname', 'is empty');
  if (!s.namespace) fail(resource, 'service.namespace', 'is empty');
  return {
    key: `${s.namespace}/${s.hostname}`,
    name: s.name,
    namespace: s.namespace,
    hostname: s.hostname,
    vips: s.addresses.map((a, i) => ipText(a.address, resource, `service.addresses[${i}]`)),
    ports: s.ports.map((p, i) => {
      if (p.servicePort === 0 || p.servicePort > 65535) fail(resource, `service.ports[${i}].service_port`, `${p.servicePort} is not a port`);
      return { port: p.servicePort, targetPort: p.targetPort, appProtocol: appProtocol(p.appProtocol) };
    }),
    subjectAltNames: [...s.subjectAltNames],
  };
}

function extensionLabels(resource: string, w: Workload): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of w.extensions) {
    if (e.name !== LABELS_EXTENSION || !e.config) continue;
    let st: Struct | undefined;
    try {
      st = anyUnpack(e.config, StructSchema);
    } catch (err) {
      fail(resource, `workload.extensions[${LABELS_EXTENSION}]`, `not a google.protobuf.Struct: ${(err as Error).message}`);
    }
    if (!st) fail(resource, `workload.extensions[${LABELS_EXTENSION}]`, `holds a ${e.config.typeUrl}, expected google.protobuf.Struct`);
    for (const [k, v] of Object.entries(st.fields)) if (v.kind.case === 'stringValue') out[k] = v.kind.value;
  }
  return out;
}

export function endpointInfo(resource: string, w: Workload): EndpointInfo | undefined {
  // A workload without an IP (DNS-resolved) cannot be an HBONE endpoint of the waypoint.
  if (w.addresses.length === 0) return undefined;
  const ip = ipText(w.addresses[0]!, resource, 'workload.addresses[0]');
  const labels: Record<string, string> = {};
  if (w.canonicalName) {
    labels.app = w.canonicalName;
    labels['service.istio.io/canonical-name'] = w.canonicalName;
  }
  if (w.canonicalRevision && w.canonicalRevision !== 'latest') {
    labels.version = w.canonicalRevision;
    labels['service.istio.io/canonical-revision'] = w.canonicalRevision;
  }
  Object.assign(labels, extensionLabels(resource, w));
  const servicePorts = new Map<string, Map<number, number>>();
  for (const [svc, list] of Object.entries(w.services)) {
    servicePorts.set(svc, new Map(list.ports.map((p) => [p.servicePort, p.targetPort])));
  }
  return {
    uid: w.uid || resource,
    name: w.name,
    namespace: w.namespace,
    ip,
    identity: `spiffe://${w.trustDomain || 'cluster.local'}/ns/${w.namespace}/sa/${w.serviceAccount || 'default'}`,
    workloadName: w.workloadName || w.name,
    canonicalService: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    cluster: w.clusterId,
    healthy: w.status === WorkloadStatus.HEALTHY,
    weight: w.capacity ?? 1,
    labels,
    servicePorts,
  };
}

export type DecodedAddress = { kind: 'service'; value: ServiceInfo } | { kind: 'workload'; value: EndpointInfo } | { kind: 'none' };

export function decodeAddress(resource: string, a: Address): DecodedAddress {
  if (a.type.case === 'service') return { kind: 'service', value: serviceInfo(resource, a.type.value) };
  if (a.type.case === 'workload') {
    const e = endpointInfo(resource, a.type.value);
    return e ? { kind: 'workload', value: e } : { kind: 'none' };
  }
  return fail(resource, 'type', 'neither a workload nor a service');
}

/** The port an endpoint listens on for `servicePort` of `service`; undefined when it has none. */
export function targetPortOf(service: ServiceInfo, e: EndpointInfo, servicePort: number): number | undefined {
  const perWorkload = e.servicePorts.get(service.key)?.get(servicePort);
  if (perWorkload) return perWorkload;
  const p = service.ports.find((x) => x.port === servicePort);
  if (!p) return undefined;
  return p.targetPort || undefined;
}
