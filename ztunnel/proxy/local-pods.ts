// Pods enrolled on this ztunnel and the inbound side of each, so that outbound can hand a
// connection between two of them over in process (same-node handoff): the destination's inbound
// handler runs as it does for an HBONE CONNECT (authority check, L4 authorization, metrics and
// access log with reporter="destination", connect from the source's own IP), only without TLS and
// HTTP/2 over a hop that never leaves the node. `handoffTarget` is the pure choice.
import type { ConnectHandler } from '../../lib/hbone/server.js';
import type { WorkloadView } from '../state/types.js';
import type { Resolution } from '../state/view.js';

/** What outbound needs of a local destination pod. */
export interface LocalInbound {
  /** The pod's SPIFFE id: what it would present as the HBONE server. */
  identity: string;
  /** The pod's HBONE inbound handler. */
  connect: ConnectHandler;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

export class LocalPods {
  private readonly byPod = new Map<string, LocalInbound>();

  /** `enabled: false` keeps every same-node connection on HBONE (benchmarks compare both). */
  constructor(public enabled = true) {}

  /** Registers a serving pod; returns its removal (idempotent, and only removes this entry). */
  add(namespace: string, name: string, inbound: LocalInbound): () => void {
    const k = keyOf(namespace, name);
    this.byPod.set(k, inbound);
    return () => {
      if (this.byPod.get(k) === inbound) this.byPod.delete(k);
    };
  }

  find(namespace: string, name: string): LocalInbound | undefined {
    return this.enabled ? this.byPod.get(keyOf(namespace, name)) : undefined;
  }

  get size(): number {
    return this.byPod.size;
  }
}

export interface Handoff {
  workload: WorkloadView;
  inbound: LocalInbound;
  /** The HBONE `:authority` the tunnel would carry (`<pod ip>:<target port>`). */
  authority: string;
}

/**
 * The local pod to hand a resolved connection to, or undefined to take the resolution's own path.
 * Only a direct HBONE destination qualifies: a waypoint in between (the waypoint must see the
 * traffic), plain TCP, passthrough and errors keep their paths; and the pod's identity must be one
 * the HBONE client would have accepted from the server's certificate. Pure.
 */
export function handoffTarget(r: Resolution, pods: LocalPods): Handoff | undefined {
  if (r.kind !== 'service' && r.kind !== 'workload') return undefined;
  if (r.waypoint || r.target.protocol !== 'HBONE' || !r.target.authority) return undefined;
  const workload = r.kind === 'service' ? r.endpoint.workload : r.workload;
  const inbound = pods.find(workload.namespace, workload.name);
  if (!inbound) return undefined;
  const ids = r.target.expectedIdentities;
  if (ids.length > 0 && !ids.includes(inbound.identity)) return undefined;
  return { workload, inbound, authority: r.target.authority };
}
