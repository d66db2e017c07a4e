// One leader among the control plane's replicas, through a Lease in its namespace: every
// `retryPeriodMs` each replica creates, renews or takes the lease (decideLease), with the
// resourceVersion it read as a precondition so that two replicas never both win. A leader that
// cannot renew for `renewDeadlineMs` steps down before its lease can lapse for the others.
// close() releases the lease, so a replica that stops cleanly is replaced at once.
import { StoreError, type ClusterStore } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { decideLease, leaseSpecFor, microTime, type LeaseObject } from './lease.js';

export const LEASE: { apiVersion: string; kind: string } = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };

export interface ElectionOptions {
  store: ClusterStore;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This replica (its pod name). */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private leading = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private observed?: { resourceVersion: string; atMs: number };
  private lastRenewMs = 0;
  private round: Promise<void> = Promise.resolve();

  constructor(private readonly o: ElectionOptions) {
    if (!(o.renewDeadlineMs < o.leaseDurationMs)) throw new Error(`leader election: the renew deadline (${o.renewDeadlineMs} ms) must be shorter than the lease duration (${o.leaseDurationMs} ms)`);
    if (!(o.retryPeriodMs < o.renewDeadlineMs)) throw new Error(`leader election: the retry period (${o.retryPeriodMs} ms) must be shorter than the renew deadline (${o.renewDeadlineMs} ms)`);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.tick();
  }

  private tick(): void {
    if (this.closed) return;
    this.round = this.attempt().finally(() => {
      if (!this.closed) this.timer = setTimeout(() => this.tick(), this.o.retryPeriodMs);
    });
  }

  private async attempt(): Promise<void> {
    const now = Date.now();
    try {
      if (await this.tryAcquireOrRenew(now)) {
        this.lastRenewMs = now;
        if (!this.leading && !this.closed) this.become(true);
        return;
      }
    } catch (err) {
      this.o.log.warn({ lease: this.ref, err: (err as Error).message }, 'leader election: cannot read or write the lease; retrying');
    }
    if (this.leading && now - this.lastRenewMs >= this.o.renewDeadlineMs) {
      this.o.log.warn({ lease: this.ref, sinceRenewMs: now - this.lastRenewMs }, 'leader election: lease not renewed within the deadline; stepping down');
      this.become(false);
    } else if (this.leading && this.observed && this.lastRenewMs < this.observed.atMs) {
      // Someone else holds the lease now (we lost a race after a pause): step down at once.
      this.become(false);
    }
  }

  private get ref(): string {
    return `${this.o.namespace}/${this.o.name}`;
  }

  /** True when this replica holds the lease after the call. */
  private async tryAcquireOrRenew(nowMs: number): Promise<boolean> {
    const key = { ...LEASE, namespace: this.o.namespace, name: this.o.name };
    const lease = await this.o.store.get<LeaseObject>(key);
    const rv = lease?.metadata.resourceVersion ?? '';
    if (lease && this.observed?.resourceVersion !== rv) this.observed = { resourceVersion: rv, atMs: nowMs };
    const d = decideLease(this.o.identity, lease, this.observed?.atMs ?? nowMs, nowMs, this.o.leaseDurationMs);
    if (d.action === 'wait') {
      if (this.leading) this.o.log.warn({ lease: this.ref, holder: d.holder }, 'leader election: another replica holds the lease');
      return false;
    }
    const spec = leaseSpecFor(this.o.identity, d.action, lease?.spec, this.o.leaseDurationMs, new Date(nowMs));
    try {
      const written =
        d.action === 'create'
          ? await this.o.store.create<LeaseObject>({ ...LEASE, metadata: { name: this.o.name, namespace: this.o.namespace }, spec })
          : await this.o.store.patch<LeaseObject>(key, { spec }, { resourceVersion: rv });
      this.observed = { resourceVersion: written.metadata.resourceVersion ?? '', atMs: nowMs };
      if (d.action !== 'renew') this.o.log.info({ lease: this.ref, identity: this.o.identity, transitions: spec.leaseTransitions }, 'leader election: acquired the lease');
      return true;
    } catch (err) {
      // Another replica wrote first: it wins this round.
      if (err instanceof StoreError && (err.code === 'Conflict' || err.code === 'AlreadyExists')) return false;
      throw err;
    }
  }

  private become(leading: boolean): void {
    this.leading = leading;
    this.o.log.info({ lease: this.ref, identity: this.o.identity }, leading ? 'leader election: leading' : 'leader election: no longer leading');
    try {
      if (leading) this.o.onStartedLeading();
      else this.o.onStoppedLeading();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, 'leader election: a leadership callback failed');
    }
  }

  /**
   * Stops taking part. `release` (default true) hands the lease back so another replica takes it
   * at once; without it the lease lapses after its duration, as after a crash.
   */
  async close(opts: { release?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.round;
    const wasLeading = this.leading;
    if (wasLeading) this.become(false);
    if (!wasLeading || opts.release === false) return;
    try {
      const key = { ...LEASE, namespace: this.o.namespace, name: this.o.name };
      const lease = await this.o.store.get<LeaseObject>(key);
      if (lease?.spec?.holderIdentity !== this.o.identity) return;
      await this.o.store.patch(key, { spec: { holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } }, { resourceVersion: lease.metadata.resourceVersion ?? '' });
      this.o.log.info({ lease: this.ref }, 'leader election: released the lease');
    } catch (err) {
      this.o.log.warn({ lease: this.ref, err: (err as Error).message }, 'leader election: cannot release the lease; it lapses on its own');
    }
  }
}
