// Policy routing of the in-pod rules (ARCHITECTURE.md §3, step 5): connections marked 0x111 (ztunnel's
// spoofed-source connections to the app) route their replies to the local stack, to ztunnel's
// transparent socket, instead of out of eth0.
import { ROUTE_TABLE, RULE_PRIORITY, TPROXY_MARK, MARK_MASK, hex, type Family } from './constants.js';

const RULE = `fwmark ${hex(TPROXY_MARK)}/${hex(MARK_MASK)} pref ${RULE_PRIORITY} lookup ${ROUTE_TABLE}`;

function fam(f: Family): string {
  return f === 4 ? '-4' : '-6';
}

function localDefault(f: Family): string {
  return `local ${f === 4 ? '0.0.0.0/0' : '::/0'} dev lo table ${ROUTE_TABLE}`;
}

/** The `ip` commands (without the leading `ip`) that install the routing for these families. */
export function routeCommands(families: readonly Family[]): string[][] {
  return families.flatMap((f) => [
    [fam(f), 'rule', 'add', ...RULE.split(' ')],
    [fam(f), 'route', 'replace', ...localDefault(f).split(' ')],
  ]);
}

/** State of one family's routing, from `ip -j rule show` and `ip -j route show table 100`. */
export interface RouteState {
  /** How many copies of our rule exist (the kernel refuses exact duplicates, so 0 or 1). */
  rules: number;
  route: boolean;
}

interface JsonRule {
  priority?: number;
  fwmark?: string;
  fwmask?: string;
  table?: string;
}

interface JsonRoute {
  type?: string;
  dst?: string;
  dev?: string;
}

export function parseRouteState(rulesJson: string, routesJson: string): RouteState {
  const rules = (JSON.parse(rulesJson || '[]') as JsonRule[]).filter(
    (r) => r.priority === RULE_PRIORITY && r.table === String(ROUTE_TABLE) && Number(r.fwmark) === TPROXY_MARK && Number(r.fwmask) === MARK_MASK,
  ).length;
  const route = (JSON.parse(routesJson || '[]') as JsonRoute[]).some((r) => r.type === 'local' && r.dst === 'default' && r.dev === 'lo');
  return { rules, route };
}

/** Commands that take one family from `s` to installed (only what is missing, since `rule add` is not idempotent). */
export function routeAddPlan(f: Family, s: RouteState): string[][] {
  const out: string[][] = [];
  if (s.rules === 0) out.push([fam(f), 'rule', 'add', ...RULE.split(' ')]);
  if (!s.route) out.push([fam(f), 'route', 'replace', ...localDefault(f).split(' ')]);
  return out;
}

/** Commands that remove what of ours exists in one family, and only that. */
export function routeRemovePlan(f: Family, s: RouteState): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < s.rules; i++) out.push([fam(f), 'rule', 'del', ...RULE.split(' ')]);
  if (s.route) out.push([fam(f), 'route', 'del', ...localDefault(f).split(' ')]);
  return out;
}
