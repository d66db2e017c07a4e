// Which identities a caller may get, like Istio's node authorizer: a node agent (ztunnel) only for
// service accounts of pods scheduled on its own node, a workload only for itself.
import { parseSpiffeId, type SpiffeId } from '../../lib/identity/spiffe.js';
import type { Caller } from './authn.js';
import { CaError, type CaErrorCode } from './errors.js';

export interface PodRef {
  namespace: string;
  serviceAccount: string;
}

/**
 * The control plane's view of where pods run. It should leave out pods that can never run again
 * (phase Failed or Succeeded), as Istio's index does.
 */
export interface PodIndex {
  podsOn(nodeName: string): Iterable<PodRef> | Promise<Iterable<PodRef>>;
}

/** A PodIndex over a plain list, for tests and the local runner. */
export class StaticPodIndex implements PodIndex {
  private byNode = new Map<string, PodRef[]>();

  constructor(pods: Iterable<PodRef & { nodeName: string }> = []) {
    this.replace(pods);
  }

  replace(pods: Iterable<PodRef & { nodeName: string }>): void {
    const next = new Map<string, PodRef[]>();
    for (const p of pods) {
      const list = next.get(p.nodeName) ?? [];
      list.push({ namespace: p.namespace, serviceAccount: p.serviceAccount });
      next.set(p.nodeName, list);
    }
    this.byNode = next;
  }

  podsOn(nodeName: string): PodRef[] {
    return this.byNode.get(nodeName) ?? [];
  }
}

export type Decision = { allowed: true } | { allowed: false; code: CaErrorCode; reason: string };

/** The decision itself, pure: `podsOnNode` is what the index says runs on a node caller's node. */
export function decide(caller: Caller, requested: SpiffeId, trustDomain: string, podsOnNode: Iterable<PodRef> = []): Decision {
  if (caller.kind === 'workload') {
    if (caller.identity === requested.uri) return { allowed: true };
    return { allowed: false, code: 'WORKLOAD_NOT_AUTHORIZED', reason: `workload ${caller.identity} may only get a certificate for itself, not for ${requested.uri}` };
  }
  if (requested.trustDomain !== trustDomain) {
    return { allowed: false, code: 'NODE_NOT_AUTHORIZED', reason: `node ${caller.nodeName} may only get identities in trust domain "${trustDomain}", not ${requested.uri}` };
  }
  for (const p of podsOnNode) {
    if (p.namespace === requested.namespace && p.serviceAccount === requested.serviceAccount) return { allowed: true };
  }
  return { allowed: false, code: 'NODE_NOT_AUTHORIZED', reason: `node ${caller.nodeName} has no pod running as ${requested.uri}` };
}

export class NodeAuthorizer {
  constructor(private readonly opts: { podIndex: PodIndex; trustDomain: string }) {}

  /** Resolves the parsed identity when `caller` may have it; otherwise throws a CaError (permission denied). */
  async authorize(caller: Caller, requestedIdentity: string): Promise<SpiffeId> {
    let requested: SpiffeId;
    try {
      requested = parseSpiffeId(requestedIdentity);
    } catch (e) {
      throw new CaError('IDENTITY_INVALID', (e as Error).message);
    }
    const pods = caller.kind === 'node' ? await this.opts.podIndex.podsOn(caller.nodeName) : undefined;
    const d = decide(caller, requested, this.opts.trustDomain, pods);
    if (!d.allowed) throw new CaError(d.code, d.reason);
    return requested;
  }
}
