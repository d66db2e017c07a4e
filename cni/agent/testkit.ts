// Test doubles for the agent's ports (not tests): a redirector that records per-netns state, a
// probe set, and a ZDS server whose ztunnel can be absent, ack, nack or hang.
import type { ZdsPod } from '../../lib/zds/index.js';
import { ZdsError } from '../../lib/zds/index.js';
import type { ProbePort, RedirectPort, ZdsPort } from './agent.js';
import type { CheckResult } from './rules/redirect.js';
import type { RedirectOptions } from './rules/options.js';

export class FakeRedirector implements RedirectPort {
  readonly rules = new Map<string, 'present' | 'partial'>();
  readonly calls: string[] = [];
  failApply = false;

  async apply(netns: string, _o?: RedirectOptions): Promise<void> {
    this.calls.push(`apply ${netns}`);
    if (this.failApply) {
      this.rules.set(netns, 'partial');
      throw new Error('iptables-restore: line 3 failed');
    }
    this.rules.set(netns, 'present');
  }

  async remove(netns: string): Promise<void> {
    this.calls.push(`remove ${netns}`);
    this.rules.delete(netns);
  }

  async check(netns: string): Promise<CheckResult> {
    const s = this.rules.get(netns);
    return { state: s ?? 'absent', missing: s === 'present' ? [] : ['IPv4: nat ISTIO_OUTPUT'], extra: [] };
  }
}

export class FakeProbe implements ProbePort {
  readonly set = new Map<string, string>();
  async addPod(ip: string, uid: string): Promise<void> {
    this.set.set(ip, uid);
  }
  async removePod(ip: string): Promise<void> {
    this.set.delete(ip);
  }
  async sync(desired: ReadonlyMap<string, string>): Promise<void> {
    this.set.clear();
    for (const [ip, uid] of desired) this.set.set(ip, uid);
  }
}

export type ZtunnelMode = 'absent' | 'ack' | 'nack';

export class FakeZds implements ZdsPort {
  mode: ZtunnelMode = 'ack';
  pods = new Map<string, ZdsPod>();
  readonly log: string[] = [];

  async add(pod: ZdsPod): Promise<void> {
    this.pods.set(pod.uid, pod);
    if (this.mode === 'absent') throw new ZdsError('NO_ZTUNNEL', 'no ztunnel is connected to /fake.sock; is ztunnel running on this node?');
    if (this.mode === 'nack') throw new ZdsError('NACK', `ztunnel refused add ${pod.uid}: cannot open netns`);
    this.log.push(`add ${pod.namespace}/${pod.name}`);
  }

  async del(uid: string): Promise<void> {
    this.pods.delete(uid);
    if (this.mode !== 'absent') this.log.push(`del ${uid}`);
  }

  setPods(pods: Iterable<ZdsPod>): void {
    this.pods = new Map([...pods].map((p) => [p.uid, p]));
  }
}
