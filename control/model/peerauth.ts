/**
 * PeerAuthentication → DENY Authorizations for ztunnel. HBONE is always mutual TLS, so the only
 * thing left to enforce is STRICT: refuse connections that arrive without a peer identity
 * (plaintext). One static policy `<root>/istio_converted_static_strict` (sent once any policy says
 * STRICT) does that for every workload
 * whose effective mode is STRICT; a workload policy with port-level modes gets its own
 * `<ns>/converted_peer_authentication_<name>`. Effective mode: workload (selector, oldest) →
 * namespace (oldest) → mesh (root namespace, oldest); UNSET inherits; default PERMISSIVE.
 */
import { labelsMatch } from './labels.js';
import { byAge, isRecord, parsePort, readMeta, readSpec, stringMap, type Meta, type Problems } from './objects.js';
import type { AuthorizationModel, MatchModel, ObjectStatus, ResolvedOptions } from './types.js';

export const STATIC_STRICT = 'istio_converted_static_strict';
export const CONVERTED_PREFIX = 'converted_peer_authentication_';

type Mode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';
const MODES: readonly string[] = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

interface ParsedPA {
  meta: Meta;
  selector?: Record<string, string>;
  mode: Mode;
  ports: Array<[number, Mode]>;
}

export interface PeerAuthResult {
  authorizations: Map<string, AuthorizationModel>;
  /** The converted policies (`<ns>/<name>`) a pod must list in `authorization_policies`. */
  forPod(namespace: string, labels: Record<string, string>): string[];
  status: Map<string, ObjectStatus>;
}

function readMode(v: unknown, id: string, field: string, problems: Problems): Mode | undefined {
  const m = isRecord(v) ? (v.mode ?? 'UNSET') : v === undefined || v === null ? 'UNSET' : undefined;
  if (typeof m === 'string' && MODES.includes(m)) return m as Mode;
  problems.add(id, field, `unknown mode ${JSON.stringify(m ?? v)} (expected UNSET, DISABLE, PERMISSIVE or STRICT)`);
  return undefined;
}

function parse(o: unknown, problems: Problems): ParsedPA | undefined {
  const meta = readMeta(o, 'PeerAuthentication', true, problems);
  const spec = meta && readSpec(o, meta.id, problems);
  if (!meta || !spec) return undefined;
  let selector: Record<string, string> | undefined;
  if (spec.selector !== undefined && spec.selector !== null) {
    const ml = isRecord(spec.selector) ? stringMap(spec.selector.matchLabels) : null;
    if (ml === null) return void problems.add(meta.id, 'spec.selector.matchLabels', 'must map strings to strings');
    if (ml && Object.keys(ml).length > 0) selector = ml;
  }
  const mode = readMode(spec.mtls, meta.id, 'spec.mtls.mode', problems);
  if (!mode) return undefined;
  const ports: Array<[number, Mode]> = [];
  if (spec.portLevelMtls !== undefined && spec.portLevelMtls !== null) {
    if (!isRecord(spec.portLevelMtls)) return void problems.add(meta.id, 'spec.portLevelMtls', 'must map port numbers to settings');
    for (const [k, v] of Object.entries(spec.portLevelMtls)) {
      const port = parsePort(k);
      if (port === undefined) return void problems.add(meta.id, `spec.portLevelMtls[${k}]`, `${JSON.stringify(k)} is not a port number`);
      const pm = readMode(v, meta.id, `spec.portLevelMtls[${k}].mode`, problems);
      if (!pm) return undefined;
      ports.push([port, pm]);
    }
    ports.sort((a, b) => a[0] - b[0]);
  }
  return { meta, selector, mode, ports };
}

const effective = (...modes: Array<Mode | undefined>): Mode => modes.find((m) => m && m !== 'UNSET') ?? 'PERMISSIVE';
const noPeer: MatchModel = { notPrincipals: [{ presence: true }] };

export function buildPeerAuthentications(objs: readonly unknown[], opts: ResolvedOptions, problems: Problems): PeerAuthResult {
  const authorizations = new Map<string, AuthorizationModel>();
  const status = new Map<string, ObjectStatus>();
  const note = (pa: ParsedPA, reason: string, message: string): void =>
    void status.set(`PeerAuthentication/${pa.meta.namespace}/${pa.meta.name}`, {
      kind: 'PeerAuthentication', namespace: pa.meta.namespace, name: pa.meta.name,
      conditions: [{ type: 'ZtunnelAccepted', status: 'False', reason, message }],
    });
  const all = objs.map((o) => parse(o, problems)).filter((p): p is ParsedPA => p !== undefined);
  all.sort((a, b) => byAge(a.meta, b.meta));
  const nsWide = new Map<string, ParsedPA>();
  const byNs = new Map<string, ParsedPA[]>();
  for (const pa of all) {
    const ns = pa.meta.namespace;
    if (pa.selector && ns === opts.rootNamespace) {
      note(pa, 'Ignored', `a PeerAuthentication with a selector in the root namespace ${ns} is ignored; put it in the workload's namespace`);
    } else if (pa.selector) {
      const list = byNs.get(ns);
      if (list) list.push(pa);
      else byNs.set(ns, [pa]);
    } else {
      if (pa.ports.length > 0) note(pa, 'UnsupportedValue', 'portLevelMtls is only honoured on a policy with a selector; the port-level settings are ignored');
      if (!nsWide.has(ns)) nsWide.set(ns, pa);
    }
  }
  const staticKey = `${opts.rootNamespace}/${STATIC_STRICT}`;
  // Only worth sending when some policy can make a workload STRICT.
  const applies = (pa: ParsedPA): boolean => !(pa.selector && pa.meta.namespace === opts.rootNamespace);
  if (all.some((pa) => applies(pa) && (pa.mode === 'STRICT' || pa.ports.some(([, m]) => m === 'STRICT')))) {
    authorizations.set(staticKey, { name: STATIC_STRICT, namespace: opts.rootNamespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{ clauses: [{ matches: [noPeer] }] }], dryRun: false });
  }
  const meshMode = nsWide.get(opts.rootNamespace)?.mode;
  const nsMode = (ns: string): Mode => effective(nsWide.get(ns)?.mode, meshMode);

  // A workload policy with port-level modes resolves to one fixed reference for all its pods.
  const portRefs = new Map<ParsedPA, string[]>();
  for (const list of byNs.values()) {
    for (const pa of list) {
      if (pa.ports.length === 0) continue;
      const base = effective(pa.mode, nsMode(pa.meta.namespace));
      const isStrict = (m: Mode): boolean => effective(m, base) === 'STRICT';
      const exempt = pa.ports.filter(([, m]) => !isStrict(m)).map(([p]) => p);
      const strict = pa.ports.filter(([, m]) => isStrict(m)).map(([p]) => p);
      let match: MatchModel | undefined;
      if (base === 'STRICT') match = exempt.length > 0 ? { ...noPeer, notDestinationPorts: exempt } : undefined;
      else match = strict.length > 0 ? { ...noPeer, destinationPorts: strict } : undefined;
      if (base === 'STRICT' && !match) {
        portRefs.set(pa, [staticKey]);
        continue;
      }
      if (!match) {
        portRefs.set(pa, []);
        continue;
      }
      const name = `${CONVERTED_PREFIX}${pa.meta.name}`;
      const key = `${pa.meta.namespace}/${name}`;
      authorizations.set(key, { name, namespace: pa.meta.namespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: [{ clauses: [{ matches: [match] }] }], dryRun: false });
      portRefs.set(pa, [key]);
    }
  }
  function forPod(namespace: string, labels: Record<string, string>): string[] {
    const wp = byNs.get(namespace)?.find((pa) => labelsMatch(pa.selector ?? {}, labels));
    if (wp) {
      const refs = portRefs.get(wp);
      if (refs) return refs;
    }
    return effective(wp?.mode, nsMode(namespace)) === 'STRICT' ? [staticKey] : [];
  }
  return { authorizations, forPod, status };
}
