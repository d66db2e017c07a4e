/**
 * ProxyState: ztunnel's store of workloads, services and policies, fed by delta xDS updates and
 * read by the proxy through StateView. Each apply is all-or-nothing: every resource is converted
 * and validated before anything changes, so a bad update (thrown → NACK) leaves the last good state.
 */
import type { Authorization } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import type { Address } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';
import { compilePolicy, type Policy } from '../rbac/policy.js';
import { serviceView, StateError, workloadView } from './convert.js';
import { canonicalIp } from './ip.js';
import type { Random } from './lb.js';
import { targetPort } from './lb.js';
import { PolicyStore } from './policies.js';
import { gatewayMembers, resolveDestination, type Lookup, type ResolveEnv } from './resolve.js';
import { EndpointIndex, ServiceStore } from './services.js';
import { HBONE_PORT, type EndpointView, type GatewayRef, type ServiceView, type WorkloadView } from './types.js';
import type { ResolveOptions, Resolution, StateChange, StateView, WorkloadKey } from './view.js';
import { Waiters } from './waiters.js';
import { WorkloadStore } from './workloads.js';

export interface ProxyStateOptions {
  /** This ztunnel's network (Workload.network of its pods); default ''. */
  network?: string;
  /** Port of HBONE on destination pods; default 15008. */
  hbonePort?: number;
  /** Random source for load balancing and weighted waypoints; default Math.random. */
  random?: Random;
  logger?: Logger;
}

export interface AddressUpsert {
  /** xDS resource name: the workload uid, or `<ns>/<hostname>` for a service. */
  name: string;
  address: Address;
}

export interface AuthorizationUpsert {
  /** xDS resource name `<ns>/<name>`. */
  name: string;
  authorization: Authorization;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class ProxyState implements StateView {
  readonly network: string;
  readonly #workloads = new WorkloadStore();
  readonly #services = new ServiceStore();
  readonly #endpoints = new EndpointIndex();
  readonly #policies = new PolicyStore();
  readonly #listeners = new Set<(c: StateChange) => void>();
  readonly #waiters: Waiters;
  readonly #env: ResolveEnv;
  readonly #log: Logger;

  constructor(opts: ProxyStateOptions = {}) {
    this.network = opts.network ?? '';
    this.#log = opts.logger ?? silentLogger();
    const lookup: Lookup = {
      workloadByAddr: (network, ip) => this.#workloads.byAddr(network, ip),
      workloadByHostname: (ns, host) => [...this.#workloads.values()].find((w) => w.namespace === ns && w.hostname === host),
      serviceByVip: (network, ip, clientNs) => this.#services.byVip(network, ip, clientNs),
      serviceByKey: (key) => this.#services.get(key),
      endpoints: (svc) => this.endpointsOf(svc),
    };
    this.#env = { lookup, rand: opts.random ?? Math.random, hbonePort: opts.hbonePort ?? HBONE_PORT };
    this.#waiters = new Waiters((key) => this.findWorkload(key));
  }

  // === writes (the xDS side) ===

  /** Applies one delta response of `istio.workload.Address`. Throws StateError (nothing changed) on bad input. */
  applyAddresses(upserts: readonly AddressUpsert[], removals: readonly string[]): StateChange {
    const workloads: WorkloadView[] = [];
    const services: ServiceView[] = [];
    for (const { name, address } of upserts) {
      const t = address.type;
      if (t.case === 'workload') {
        const w = workloadView(name, t.value);
        if (w.uid !== name) throw new StateError(`Workload "${name}"`, 'uid', `"${w.uid}" differs from the resource name (workloads are named by uid)`);
        workloads.push(w);
      } else if (t.case === 'service') {
        const s = serviceView(name, t.value);
        if (s.key !== name) throw new StateError(`Service "${name}"`, 'hostname', `"${s.key}" differs from the resource name (services are named <namespace>/<hostname>)`);
        services.push(s);
      } else {
        throw new StateError(`Address "${name}"`, 'type', 'is neither a workload nor a service');
      }
    }
    // Validated: from here on nothing throws.
    let authz = false;
    const w = { upserted: [] as string[], removed: [] as string[] };
    const s = { upserted: [] as string[], removed: [] as string[] };
    for (const view of workloads) {
      const prev = this.#workloads.put(view);
      if (prev) this.#endpoints.remove(prev);
      this.#endpoints.add(view);
      if (prev && (prev.namespace !== view.namespace || !sameList(prev.authorizationPolicies, view.authorizationPolicies))) authz = true;
      w.upserted.push(view.uid);
    }
    for (const view of services) {
      this.#services.put(view);
      s.upserted.push(view.key);
    }
    for (const name of removals) {
      const prev = this.#workloads.remove(name);
      if (prev) {
        this.#endpoints.remove(prev);
        w.removed.push(name);
      } else if (this.#services.remove(name)) {
        s.removed.push(name);
      }
    }
    const change: StateChange = { workloads: w, services: s, policies: { upserted: [], removed: [] }, authorization: authz };
    if (workloads.length > 0) this.#waiters.check();
    this.#emit(change);
    return change;
  }

  /** Applies one delta response of `istio.security.Authorization`. Throws (nothing changed) on bad input. */
  applyAuthorizations(upserts: readonly AuthorizationUpsert[], removals: readonly string[]): StateChange {
    const compiled = upserts.map(({ name, authorization }) => compilePolicy(name, authorization));
    const upserted = compiled.map((p) => (this.#policies.put(p), p.key));
    const removed = removals.filter((n) => this.#policies.remove(n) !== undefined);
    const change: StateChange = {
      workloads: { upserted: [], removed: [] },
      services: { upserted: [], removed: [] },
      policies: { upserted, removed },
      authorization: upserted.length > 0 || removed.length > 0,
    };
    this.#emit(change);
    return change;
  }

  onChange(listener: (change: StateChange) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #emit(change: StateChange): void {
    const empty = (c: { upserted: readonly string[]; removed: readonly string[] }): boolean => c.upserted.length === 0 && c.removed.length === 0;
    if (empty(change.workloads) && empty(change.services) && empty(change.policies)) return;
    // A listener's failure is not the update's fault: the state is already committed.
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (err) {
        this.#log.error({ err: (err as Error).message }, 'state change listener failed');
      }
    }
  }

  // === reads (StateView) ===

  workloadByUid(uid: string): WorkloadView | undefined {
    return this.#workloads.get(uid);
  }

  workloadByAddr(ip: string, network = this.network): WorkloadView | undefined {
    const c = canonicalIp(ip);
    return c === undefined ? undefined : this.#workloads.byAddr(network, c);
  }

  findWorkload(key: WorkloadKey): WorkloadView | undefined {
    if ('uid' in key) return this.workloadByUid(key.uid);
    if ('ip' in key) return this.workloadByAddr(key.ip, key.network);
    return this.#workloads.byName(key.namespace, key.name).find((w) => key.serviceAccount === undefined || w.serviceAccount === key.serviceAccount);
  }

  waitForWorkload(key: WorkloadKey, timeoutMs: number): Promise<WorkloadView | undefined> {
    return this.#waiters.wait(key, timeoutMs);
  }

  serviceByVip(ip: string, opts: { network?: string; clientNamespace?: string } = {}): ServiceView | undefined {
    const c = canonicalIp(ip);
    return c === undefined ? undefined : this.#services.byVip(opts.network ?? this.network, c, opts.clientNamespace);
  }

  serviceByHost(namespace: string, hostname: string): ServiceView | undefined {
    return this.#services.get(`${namespace}/${hostname}`);
  }

  serviceByHostname(hostname: string, clientNamespace?: string): ServiceView | undefined {
    return this.#services.byHostname(hostname, clientNamespace);
  }

  endpointsOf(service: ServiceView | string): readonly EndpointView[] {
    const key = typeof service === 'string' ? service : service.key;
    const out: EndpointView[] = [];
    for (const uid of this.#endpoints.uids(key)) {
      const workload = this.#workloads.get(uid);
      const ports = workload?.services.get(key);
      if (workload && ports) out.push({ workload, ports });
    }
    return out;
  }

  servicesOf(workload: WorkloadView): readonly ServiceView[] {
    return [...workload.services.keys()].map((k) => this.#services.get(k)).filter((s): s is ServiceView => s !== undefined);
  }

  policiesFor(workload: WorkloadView): readonly Policy[] {
    const { policies, missing } = this.#policies.forWorkload(workload);
    if (missing.length > 0) this.#log.debug({ workload: workload.uid, missing }, 'workload lists policies not received (yet); skipping them');
    return policies;
  }

  resolveDestination(source: WorkloadView, dstIp: string, dstPort: number, opts: ResolveOptions = {}): Resolution {
    return resolveDestination(this.#env, source, dstIp, dstPort, opts.srcIp);
  }

  gatewayIncludes(gateway: GatewayRef, workload: WorkloadView): boolean {
    return gatewayMembers(this.#env.lookup, gateway).some((w) => w.uid === workload.uid);
  }

  targetPortFor(service: ServiceView, workload: WorkloadView, servicePort: number): number | undefined {
    return targetPort(service, { workload, ports: workload.services.get(service.key) ?? new Map() }, servicePort);
  }

  // === admin and tests ===

  workloads(): IterableIterator<WorkloadView> {
    return this.#workloads.values();
  }

  services(): IterableIterator<ServiceView> {
    return this.#services.values();
  }

  policies(): IterableIterator<Policy> {
    return this.#policies.values();
  }

  policy(key: string): Policy | undefined {
    return this.#policies.get(key);
  }

  /** Index sizes, for tests that check removals leave nothing behind. */
  stats(): { workloads: number; workloadAddrs: number; services: number; serviceVips: number; policies: number; waiters: number } {
    return {
      workloads: this.#workloads.size,
      workloadAddrs: this.#workloads.addrKeys,
      services: this.#services.size,
      serviceVips: this.#services.vipKeys,
      policies: this.#policies.size,
      waiters: this.#waiters.size,
    };
  }
}
