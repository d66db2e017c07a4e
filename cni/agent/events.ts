// What the agent answers the ambit-cni plugin (cni/plugin/protocol.ts). ADD decides from the
// Pod and Namespace objects as the store has them now, and answers `enrolled` only once the pod
// is fully in ambient; any failure has been undone by then, so the runtime can safely retry.
import { NAMESPACE, POD, type Namespace, type Pod } from '../../lib/k8s/types.js';
import type { ClusterStore } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { EventHandlers } from '../plugin/server.js';
import type { AddReply, CheckReply, PodEvent, StatusReply } from '../plugin/protocol.js';
import type { NodeAgent } from './agent.js';
import { decideEnrolment, podKey, stripPrefixes } from './enrol.js';
import { EnrolError } from './errors.js';
import type { AgentMetrics } from './metrics.js';

export interface EventDeps {
  agent: NodeAgent;
  store: ClusterStore;
  metrics: AgentMetrics;
  log: Logger;
  /** Whether the agent is ready (store listed, probe SNAT set up), and if not why. */
  readiness: () => StatusReply;
  /** False once the agent is shutting down: new ADDs are refused as retryable. */
  accepting: () => boolean;
}

function failed(err: EnrolError): AddReply {
  return { status: 'failed', message: err.message, retryable: err.retryable };
}

export function cniHandlers(d: EventDeps): EventHandlers {
  const { agent, store, log } = d;

  async function lookup(ev: PodEvent): Promise<{ pod: Pod; ns: Namespace | undefined } | EnrolError> {
    const key = podKey(ev.podNamespace, ev.podName);
    let pod: Pod | undefined;
    let ns: Namespace | undefined;
    try {
      pod = await store.get<Pod>({ ...POD, namespace: ev.podNamespace, name: ev.podName });
      ns = await store.get<Namespace>({ ...NAMESPACE, name: ev.podNamespace });
    } catch (e) {
      return new EnrolError('store', `cannot read pod ${key} from the cluster store: ${(e as Error).message}`, true);
    }
    if (!pod) return new EnrolError('pod-not-found', `pod ${key} is not in the cluster store (yet)`, true);
    if (ev.podUid && pod.metadata.uid !== ev.podUid) {
      return new EnrolError('pod-not-found', `pod ${key} in the cluster store has uid ${pod.metadata.uid ?? 'none'}, the runtime asked for ${ev.podUid}`, true);
    }
    return { pod, ns };
  }

  async function add(ev: PodEvent): Promise<AddReply> {
    const key = podKey(ev.podNamespace, ev.podName);
    if (!d.accepting()) return failed(new EnrolError('shutting-down', 'the node agent is shutting down; retry once it is back', true));
    return agent.queue.run(key, async () => {
      const found = await lookup(ev);
      if (found instanceof EnrolError) {
        d.metrics.failures.inc({ operation: 'enrol', reason: found.reason });
        log.warn({ pod: key, err: found.message }, 'CNI ADD refused');
        return failed(found);
      }
      const { pod, ns } = found;
      const decision = decideEnrolment(pod, ns, agent.settings);
      let cur = agent.get(key);
      try {
        // A new sandbox for a pod we hold (or a new pod of the same name): the old one is gone.
        if (cur && (!decision.enrol || cur.uid !== pod.metadata.uid || cur.netnsPath !== ev.netns)) {
          await agent.unenrol(cur, 'sandbox-replaced', true);
          cur = undefined;
        }
        if (!decision.enrol) {
          log.debug({ pod: key, reason: decision.reason, detail: decision.detail }, 'CNI ADD: pod not in ambient');
          return { status: 'not-enrolled' };
        }
        await agent.enrol(pod, ev.netns, stripPrefixes(ev.ips.map((i) => i.address)), 'cni');
        return { status: 'enrolled' };
      } catch (e) {
        const err = EnrolError.from(e, 'invalid', key);
        log.warn({ pod: key, reason: err.reason, err: err.message }, 'CNI ADD: pod not enrolled; the runtime will retry');
        return failed(err);
      }
    });
  }

  async function del(ev: PodEvent): Promise<void> {
    const key = podKey(ev.podNamespace, ev.podName);
    await agent.queue.run(key, async () => {
      const cur = agent.get(key);
      if (!cur || (ev.podUid && cur.uid !== ev.podUid)) return;
      try {
        await agent.unenrol(cur, 'cni-del', true);
      } catch (e) {
        // DEL must not fail (the runtime could never free the sandbox); the reconcile retries.
        log.warn({ pod: key, err: (e as Error).message }, 'CNI DEL: unenrol failed');
      }
    });
  }

  async function check(ev: PodEvent): Promise<CheckReply> {
    const key = podKey(ev.podNamespace, ev.podName);
    return agent.queue.run(key, async () => {
      const cur = agent.get(key);
      if (cur) {
        const r = await agent.checkRules(cur);
        if (r.state === 'present') return { status: 'enrolled' };
        return { status: 'broken', message: `redirection ${r.state}: missing ${r.missing.join('; ') || 'nothing'}; unexpected ${r.extra.join('; ') || 'nothing'}` };
      }
      const found = await lookup(ev);
      if (found instanceof EnrolError) return { status: 'not-enrolled', message: found.message };
      const decision = decideEnrolment(found.pod, found.ns, agent.settings);
      if (decision.enrol) return { status: 'broken', message: `pod ${key} belongs in ambient (${decision.by}) but is not enrolled` };
      return { status: 'not-enrolled' };
    });
  }

  return { add, del, check, status: async () => d.readiness() };
}
