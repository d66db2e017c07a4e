/**
 * AuthorizationPolicy → `istio.security.Authorization` (resource name `<ns>/<name>`).
 * Scope: a selector ⇒ WORKLOAD_SELECTOR (listed on each selected Workload); none ⇒ NAMESPACE, or
 * GLOBAL in the root namespace. Policies with targetRef(s) belong to waypoints and are left out.
 * What ztunnel cannot enforce is reported in the policy's `ZtunnelAccepted` condition, and is
 * handled so that the result never admits more than the policy as written.
 */
import { A, SelectorIndex } from './labels.js';
import { readMeta, readSpec, isRecord, stringMap, type Problems } from './objects.js';
import { convertRule, type RuleIssues } from './policy-rules.js';
import type { AuthorizationModel, Condition, ObjectStatus, ResolvedOptions, RuleModel } from './types.js';

export interface SelectorPolicy {
  /** `<ns>/<name>`, as listed in Workload.authorization_policies. */
  key: string;
  namespace: string;
  selector: Record<string, string>;
}

export interface PoliciesResult {
  authorizations: Map<string, AuthorizationModel>;
  /** Selector-scoped policies by namespace (root-namespace ones apply to every namespace). */
  selectorPolicies: Map<string, SelectorIndex<SelectorPolicy>>;
  status: Map<string, ObjectStatus>;
}

const accepted = (status: 'True' | 'False', reason: string, message: string): Condition => ({ type: 'ZtunnelAccepted', status, reason, message });

function l7Message(action: 'ALLOW' | 'DENY', attrs: string[], dropped: number): string {
  const what = `ztunnel enforces connections (L4) only and cannot evaluate the HTTP attribute${attrs.length > 1 ? 's' : ''} ${attrs.join(', ')}.`;
  const effect =
    action === 'ALLOW'
      ? ` ${dropped} rule${dropped === 1 ? '' : 's'} using them ${dropped === 1 ? 'was' : 'were'} dropped, so this policy allows less than written.`
      : ' Those conditions were removed from their rules, so this policy denies more than written.';
  return `${what}${effect} To enforce HTTP rules in ambient mode, bind a waypoint (label istio.io/use-waypoint) and attach the policy to it with targetRefs.`;
}

function invalidMessage(action: 'ALLOW' | 'DENY', n: number): string {
  return action === 'ALLOW'
    ? `${n} value${n === 1 ? '' : 's'} could not be used (see the control plane's problems); the rules containing them were dropped, so this policy allows less than written.`
    : `${n} value${n === 1 ? '' : 's'} could not be used (see the control plane's problems); they were removed from their rules, so this policy denies more than written.`;
}

function hasTargetRefs(spec: Record<string, unknown>): boolean {
  return isRecord(spec.targetRef) || (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0);
}

export function buildAuthorizationPolicies(objs: readonly unknown[], opts: ResolvedOptions, problems: Problems): PoliciesResult {
  const authorizations = new Map<string, AuthorizationModel>();
  const selectorPolicies = new Map<string, SelectorIndex<SelectorPolicy>>();
  const status = new Map<string, ObjectStatus>();
  for (const o of objs) {
    const meta = readMeta(o, 'AuthorizationPolicy', true, problems);
    if (!meta) continue;
    const spec = readSpec(o, meta.id, problems);
    if (!spec || hasTargetRefs(spec)) continue;
    const key = `${meta.namespace}/${meta.name}`;
    if (authorizations.has(key)) {
      problems.add(meta.id, 'metadata.name', 'duplicate AuthorizationPolicy; the first one is used');
      continue;
    }
    const setStatus = (c: Condition): void => void status.set(`AuthorizationPolicy/${key}`, { kind: 'AuthorizationPolicy', namespace: meta.namespace, name: meta.name, conditions: [c] });
    const action = spec.action ?? 'ALLOW';
    if (action === 'AUDIT' || action === 'CUSTOM') {
      setStatus(accepted('False', 'UnsupportedValue', `ztunnel cannot enforce the ${action} action; this policy is not applied at L4 (a waypoint can apply it).`));
      continue;
    }
    if (action !== 'ALLOW' && action !== 'DENY') {
      problems.add(meta.id, 'spec.action', `unknown action ${JSON.stringify(action)} (expected ALLOW, DENY, AUDIT or CUSTOM)`);
      setStatus(accepted('False', 'Invalid', `unknown action ${JSON.stringify(action)}; the policy is not applied`));
      continue;
    }
    let selector: Record<string, string> | undefined;
    if (spec.selector !== undefined && spec.selector !== null) {
      const ml = isRecord(spec.selector) ? stringMap(spec.selector.matchLabels) : null;
      if (ml === null) {
        problems.add(meta.id, 'spec.selector.matchLabels', 'must map strings to strings');
        setStatus(accepted('False', 'Invalid', 'malformed selector; the policy is not applied'));
        continue;
      }
      if (ml && Object.keys(ml).length > 0) selector = ml;
    }
    if (spec.rules !== undefined && spec.rules !== null && !Array.isArray(spec.rules)) {
      problems.add(meta.id, 'spec.rules', 'must be a list');
      setStatus(accepted('False', 'Invalid', 'spec.rules is not a list; the policy is not applied'));
      continue;
    }
    const rules: RuleModel[] = [];
    const l7 = new Set<string>();
    let droppedForL7 = 0;
    let invalid = 0;
    for (const [i, r] of ((spec.rules as unknown[] | undefined) ?? []).entries()) {
      const issues: RuleIssues = { l7: [], invalid: [] };
      const rule = convertRule(r, `spec.rules[${i}]`, meta.namespace, issues);
      for (const a of issues.l7) l7.add(a);
      for (const bad of issues.invalid) problems.add(meta.id, bad.field, bad.message);
      invalid += issues.invalid.length;
      // An ALLOW rule that lost conditions would match more than written: drop it (fail closed).
      if (action === 'ALLOW' && (issues.l7.length > 0 || issues.invalid.length > 0)) droppedForL7 += issues.l7.length > 0 ? 1 : 0;
      else rules.push(rule);
    }
    const scope = selector ? 'WORKLOAD_SELECTOR' : meta.namespace === opts.rootNamespace ? 'GLOBAL' : 'NAMESPACE';
    authorizations.set(key, { name: meta.name, namespace: meta.namespace, scope, action, rules, dryRun: meta.annotations[A.dryRun] === 'true' });
    if (selector) {
      const index = selectorPolicies.get(meta.namespace) ?? new SelectorIndex<SelectorPolicy>();
      index.add(selector, { key, namespace: meta.namespace, selector });
      selectorPolicies.set(meta.namespace, index);
    }
    const messages: string[] = [];
    if (l7.size > 0) messages.push(l7Message(action, [...l7].sort(), droppedForL7));
    if (invalid > 0) messages.push(invalidMessage(action, invalid));
    if (messages.length === 0) setStatus(accepted('True', 'Accepted', 'enforced by ztunnel'));
    else setStatus(accepted('False', l7.size > 0 ? 'UnsupportedValue' : 'Invalid', messages.join(' ')));
  }
  return { authorizations, selectorPolicies, status };
}
