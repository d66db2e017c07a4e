// `ambit analyze`: the mistakes users make with ambient objects, as a pure function of the objects.
// Every finding names the object, the field and a fix. Codes follow Istio's analyzer where Istio has
// the same check (IST0101 ReferencedResourceNotFound); Ambit's own checks use AMB01xx.
import type { KubeObject } from '../store/types.js';

export type Severity = 'Error' | 'Warning' | 'Info';

export interface Finding {
  code: string;
  severity: Severity;
  /** `Kind namespace/name` (or `Kind name` for cluster-scoped objects). */
  object: string;
  /** Dotted path of the field at fault, e.g. `metadata.labels["istio.io/use-waypoint"]`. */
  field: string;
  message: string;
  fix: string;
}

export const CODES = {
  referencedResourceNotFound: 'IST0101',
  l7RulesOnlyZtunnel: 'AMB0101',
  backendWithoutEndpoints: 'AMB0102',
  waypointNamespaceNotAmbient: 'AMB0103',
  selectorAndTargetRefs: 'AMB0104',
  useWaypointNotAWaypoint: 'AMB0105',
} as const;

const USE_WAYPOINT = 'istio.io/use-waypoint';
const USE_WAYPOINT_NS = 'istio.io/use-waypoint-namespace';
const DATAPLANE_MODE = 'istio.io/dataplane-mode';
const WAYPOINT_CLASS = 'istio-waypoint';

type Obj = KubeObject;
type Rec = Record<string, unknown>;

function rec(v: unknown): Rec | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function describeObject(o: Obj): string {
  return o.metadata.namespace ? `${o.kind} ${o.metadata.namespace}/${o.metadata.name}` : `${o.kind} ${o.metadata.name}`;
}

class Index {
  private readonly byKind = new Map<string, Obj[]>();
  constructor(objects: readonly Obj[]) {
    for (const o of objects) {
      const list = this.byKind.get(o.kind) ?? [];
      list.push(o);
      this.byKind.set(o.kind, list);
    }
  }
  all(kind: string): Obj[] {
    return this.byKind.get(kind) ?? [];
  }
  get(kind: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.all(kind).find((o) => o.metadata.name === name && (o.metadata.namespace ?? undefined) === namespace);
  }
}

function isWaypoint(gw: Obj): boolean {
  return str(rec(gw.spec)?.gatewayClassName) === WAYPOINT_CLASS;
}

function matches(selector: Rec | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Whether a Service has ready endpoints, or (for a static manifest set) workloads its selector picks. */
function hasEndpoints(idx: Index, svc: Obj): boolean {
  const ns = svc.metadata.namespace;
  const ep = idx.get('Endpoints', ns, svc.metadata.name);
  if (ep && arr(ep.subsets).some((s) => arr(rec(s)?.addresses).length > 0)) return true;
  const selector = rec(rec(svc.spec)?.selector);
  const labels = selector as Record<string, string> | undefined;
  if (idx.all('Pod').some((p) => p.metadata.namespace === ns && matches(labels, p.metadata.labels) && !p.metadata.deletionTimestamp)) return true;
  return idx.all('Deployment').some((d) => {
    const spec = rec(d.spec);
    const replicas = spec?.replicas === undefined ? 1 : Number(spec.replicas);
    const tmplLabels = rec(rec(rec(spec?.template)?.metadata)?.labels) as Record<string, string> | undefined;
    return d.metadata.namespace === ns && replicas > 0 && matches(labels, tmplLabels);
  });
}

function checkUseWaypoint(idx: Index, out: Finding[]): void {
  for (const kind of ['Namespace', 'Service', 'Pod', 'ServiceEntry']) {
    for (const o of idx.all(kind)) {
      const name = o.metadata.labels?.[USE_WAYPOINT];
      if (!name || name === 'none') continue;
      const ns = o.metadata.labels?.[USE_WAYPOINT_NS] ?? (kind === 'Namespace' ? o.metadata.name : o.metadata.namespace);
      const gw = idx.get('Gateway', ns, name);
      const field = `metadata.labels["${USE_WAYPOINT}"]`;
      if (!gw) {
        out.push({
          code: CODES.referencedResourceNotFound,
          severity: 'Error',
          object: describeObject(o),
          field,
          message: `names waypoint Gateway ${ns}/${name}, which does not exist; traffic to it is not captured by any waypoint`,
          fix: `create it (ambit waypoint apply -n ${ns} --name ${name}) or correct the label`,
        });
      } else if (!isWaypoint(gw)) {
        out.push({
          code: CODES.useWaypointNotAWaypoint,
          severity: 'Error',
          object: describeObject(o),
          field,
          message: `names Gateway ${ns}/${name}, whose gatewayClassName is ${str(rec(gw.spec)?.gatewayClassName) ?? '(none)'}, not ${WAYPOINT_CLASS}`,
          fix: `point the label at a Gateway of class ${WAYPOINT_CLASS}`,
        });
      }
    }
  }
}

/** The L7 fields of an AuthorizationPolicy rule, as paths relative to `spec.rules[i]`. */
function l7Fields(rule: Rec): string[] {
  const out: string[] = [];
  arr(rule.from).forEach((f, j) => {
    const source = rec(rec(f)?.source);
    for (const k of ['requestPrincipals', 'notRequestPrincipals']) if (arr(source?.[k]).length > 0) out.push(`from[${j}].source.${k}`);
  });
  arr(rule.to).forEach((t, j) => {
    const op = rec(rec(t)?.operation);
    for (const k of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths']) if (arr(op?.[k]).length > 0) out.push(`to[${j}].operation.${k}`);
  });
  arr(rule.when).forEach((w, j) => {
    const key = str(rec(w)?.key) ?? '';
    if (key.startsWith('request.')) out.push(`when[${j}].key (${key})`);
  });
  return out;
}

function targetRefsOf(spec: Rec | undefined): Rec[] {
  const refs = arr(spec?.targetRefs).map(rec).filter((r): r is Rec => r !== undefined);
  const one = rec(spec?.targetRef);
  return one ? [...refs, one] : refs;
}

function checkAuthorizationPolicies(idx: Index, out: Finding[]): void {
  for (const ap of idx.all('AuthorizationPolicy')) {
    const spec = rec(ap.spec);
    const refs = targetRefsOf(spec);
    const hasSelector = rec(spec?.selector) !== undefined;
    if (hasSelector && refs.length > 0) {
      out.push({
        code: CODES.selectorAndTargetRefs,
        severity: 'Error',
        object: describeObject(ap),
        field: 'spec.selector',
        message: 'sets both selector and targetRefs; the policy is rejected',
        fix: 'keep targetRefs (enforced by the waypoint) or selector (enforced by ztunnel), not both',
      });
    }
    for (const [i, ref] of refs.entries()) {
      const kind = str(ref.kind) ?? '';
      const name = str(ref.name) ?? '';
      if (kind !== 'Gateway' && kind !== 'Service' && kind !== 'ServiceEntry') continue;
      if (!idx.get(kind, ap.metadata.namespace, name)) {
        out.push({
          code: CODES.referencedResourceNotFound,
          severity: 'Error',
          object: describeObject(ap),
          field: `spec.targetRefs[${i}]`,
          message: `targets ${kind} ${ap.metadata.namespace ?? ''}/${name}, which does not exist; the policy applies nowhere`,
          fix: `create the ${kind} or correct spec.targetRefs[${i}].name`,
        });
      }
    }
    if (refs.length > 0) continue;
    arr(spec?.rules).forEach((r, i) => {
      const rule = rec(r);
      if (!rule) return;
      const fields = l7Fields(rule);
      if (fields.length === 0) return;
      const action = str(spec?.action) ?? 'ALLOW';
      const effect = action === 'DENY' ? 'ztunnel cannot see requests, so this DENY rule matches no request attribute and denies whole connections' : 'ztunnel cannot match request attributes, so this rule never allows anything';
      out.push({
        code: CODES.l7RulesOnlyZtunnel,
        severity: 'Warning',
        object: describeObject(ap),
        field: `spec.rules[${i}].${fields[0]!}`,
        message: `has L7 rules (${fields.join(', ')}) but no targetRefs, so only ztunnel enforces it: ${effect}`,
        fix: 'add spec.targetRefs naming the waypoint Gateway (kind: Gateway, group: gateway.networking.k8s.io) or the Service, and give the namespace a waypoint',
      });
    });
  }
}

function checkRoutes(idx: Index, out: Finding[]): void {
  for (const kind of ['HTTPRoute', 'GRPCRoute']) {
    for (const route of idx.all(kind)) {
      const ns = route.metadata.namespace;
      arr(rec(route.spec)?.rules).forEach((r, i) => {
        arr(rec(r)?.backendRefs).forEach((b, j) => {
          const ref = rec(b);
          const refKind = str(ref?.kind) ?? 'Service';
          if (refKind !== 'Service' || (str(ref?.group) ?? '') !== '') return;
          const name = str(ref?.name) ?? '';
          const refNs = str(ref?.namespace) ?? ns;
          const field = `spec.rules[${i}].backendRefs[${j}]`;
          const svc = idx.get('Service', refNs, name);
          if (!svc) {
            out.push({
              code: CODES.referencedResourceNotFound,
              severity: 'Error',
              object: describeObject(route),
              field,
              message: `sends traffic to Service ${refNs}/${name}, which does not exist; those requests get 500`,
              fix: `create the Service or correct ${field}.name`,
            });
          } else if (!hasEndpoints(idx, svc)) {
            out.push({
              code: CODES.backendWithoutEndpoints,
              severity: 'Warning',
              object: describeObject(route),
              field,
              message: `sends traffic to Service ${refNs}/${name}, which has no endpoints; those requests get 503`,
              fix: `deploy workloads matching the Service's selector (kubectl get svc ${name} -n ${refNs} -o yaml) or change ${field}`,
            });
          }
        });
      });
    }
  }
}

function checkWaypointNamespaces(idx: Index, out: Finding[]): void {
  const reported = new Set<string>();
  for (const gw of idx.all('Gateway')) {
    const ns = gw.metadata.namespace ?? 'default';
    if (!isWaypoint(gw) || reported.has(ns)) continue;
    const nsObj = idx.get('Namespace', undefined, ns);
    if (!nsObj) continue; // namespaces not in the input set are not judged
    if (nsObj.metadata.labels?.[DATAPLANE_MODE] === 'ambient') continue;
    reported.add(ns);
    out.push({
      code: CODES.waypointNamespaceNotAmbient,
      severity: 'Warning',
      object: describeObject(nsObj),
      field: `metadata.labels["${DATAPLANE_MODE}"]`,
      message: `has waypoint Gateway ${ns}/${gw.metadata.name} but is not in the ambient mesh; its pods' traffic never reaches the waypoint`,
      fix: `ambit label namespace ${ns} ${DATAPLANE_MODE}=ambient`,
    });
  }
}

/** All findings for a set of objects, errors first, then by object and field. */
export function analyze(objects: readonly KubeObject[]): Finding[] {
  const idx = new Index(objects);
  const out: Finding[] = [];
  checkUseWaypoint(idx, out);
  checkAuthorizationPolicies(idx, out);
  checkRoutes(idx, out);
  checkWaypointNamespaces(idx, out);
  const rank: Record<Severity, number> = { Error: 0, Warning: 1, Info: 2 };
  return out.sort((a, b) => rank[a.severity] - rank[b.severity] || a.object.localeCompare(b.object) || a.field.localeCompare(b.field));
}

/** Istio-style one line per finding: `Error [IST0101] (Kind ns/name) message`, then field and fix. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return '✔ No validation issues found when analyzing the objects.';
  return findings.map((f) => `${f.severity} [${f.code}] (${f.object}) ${f.message}\n    field: ${f.field}\n    fix:   ${f.fix}`).join('\n');
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'Error');
}
