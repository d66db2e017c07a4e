// Live inbound connections with what authorization decided them on. When policies change (or a
// workload's list of policies), every connection is judged again and those now denied are closed
// (Istio's AuthorizationPolicyLateRejection), as ztunnel's ConnectionManager does.
import type { Logger } from '../../lib/telemetry/log.js';
import { authorize, type Connection, type Decision } from '../rbac/authorize.js';
import type { StateView } from '../state/view.js';
import type { WorkloadView } from '../state/types.js';

export interface TrackedConnection {
  /** The authorization inputs, as at accept time. */
  conn: Connection;
  /** The destination workload (this pod); its policies are looked up again on every change. */
  workload: WorkloadView;
  /** How the client reached us: HBONE (mutual TLS) or plain TCP (15006). */
  protocol: 'HBONE' | 'TCP';
  /** Closes the connection; called once at most. */
  close(reason: string): void;
}

export interface ConnectionSummary {
  /** Inbound: a client reached a local pod; outbound: a local pod's connection going out. */
  direction: 'inbound' | 'outbound';
  srcIp: string;
  srcPort?: number;
  srcIdentity?: string;
  /** Inbound: the local pod's address; outbound: where ztunnel sent it (endpoint or waypoint). */
  dstIp: string;
  dstPort: number;
  /** Outbound: the address the app dialled (a Service VIP, say). */
  originalDst?: string;
  /** The local workload's uid. */
  workload: string;
  protocol: 'HBONE' | 'TCP';
}

export class ConnectionManager {
  private readonly live = new Set<TrackedConnection>();
  /** Outbound connections, only listed (authorization is the destination's to judge). */
  private readonly outbound = new Set<ConnectionSummary>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly state: StateView,
    private readonly log: Logger,
  ) {
    this.unsubscribe = state.onChange((change) => {
      if (change.authorization) this.revalidate();
    });
  }

  get size(): number {
    return this.live.size;
  }

  /** Registers a live connection; call the returned function when it ends. */
  track(c: TrackedConnection): () => void {
    this.live.add(c);
    return () => void this.live.delete(c);
  }

  /** Registers a live outbound connection for /config_dump; call the returned function when it ends. */
  trackOutbound(c: Omit<ConnectionSummary, 'direction'>): () => void {
    const entry: ConnectionSummary = { direction: 'outbound', ...c };
    this.outbound.add(entry);
    return () => void this.outbound.delete(entry);
  }

  /** Judges every live connection again; closes the denied ones. Returns how many were closed. */
  revalidate(): number {
    let closed = 0;
    for (const c of [...this.live]) {
      const workload = this.state.workloadByUid(c.workload.uid) ?? c.workload;
      let d: Decision;
      try {
        d = authorize(c.conn, this.state.policiesFor(workload));
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'authorization re-check failed; keeping the connection');
        continue;
      }
      if (d.allowed) continue;
      this.live.delete(c);
      closed++;
      const reason = `AuthorizationPolicyLateRejection: ${d.reason}`;
      this.log.info({ src: c.conn.srcIp, srcIdentity: c.conn.srcIdentity, dst: `${c.conn.dstIp}:${c.conn.dstPort}`, policy: d.policy }, 'closing a connection that a policy change now denies');
      c.close(reason);
    }
    return closed;
  }

  list(): ConnectionSummary[] {
    const inbound = [...this.live].map((c): ConnectionSummary => ({
      direction: 'inbound',
      srcIp: c.conn.srcIp,
      ...(c.conn.srcIdentity ? { srcIdentity: c.conn.srcIdentity } : {}),
      dstIp: c.conn.dstIp,
      dstPort: c.conn.dstPort,
      workload: c.workload.uid,
      protocol: c.protocol,
    }));
    return [...inbound, ...this.outbound];
  }

  close(): void {
    this.unsubscribe();
  }
}
