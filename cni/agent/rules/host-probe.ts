// Node-side probe SNAT, pure. The kubelet probes pods from the node's own IP,
// which in-pod capture would send to ztunnel; connections from a local socket on the node to an
// enrolled pod are SNATed to a link-local address that the in-pod rules let through.
//
// Two ways to hold the set of enrolled pod IPs:
// - `ipset` (hash:ip, comment = pod UID) matched by an iptables rule, as Istio does: visible to
//   anyone who knows Istio's layout, and works on legacy-iptables nodes;
// - an nftables set in a table of our own, when `ipset` is not installed: one transaction per
//   change, O(1) lookup, the UID as element comment. `meta skuid` only evaluates for packets that
//   have a local socket, which is what iptables' `--socket-exists` tests.
import { PROBE_SNAT_V4, PROBE_SNAT_V6, type Family } from './constants.js';
import type { RuleSet } from './iptables.js';

export const PROBE_CHAIN = 'ISTIO_POSTRT';
export const PROBE_IPSET = 'istio-inpod-probes';
export const PROBE_NFT_TABLE = 'ambit_probes';
export const PROBE_NFT_SET = 'pods';

export interface ProbeNames {
  /** ipset base name; `-v4` / `-v6` are appended. */
  ipset: string;
  chain: string;
  nftTable: string;
}

export const DEFAULT_PROBE_NAMES: ProbeNames = { ipset: PROBE_IPSET, chain: PROBE_CHAIN, nftTable: PROBE_NFT_TABLE };

export function snatAddress(f: Family, v4 = PROBE_SNAT_V4, v6 = PROBE_SNAT_V6): string {
  return f === 4 ? v4 : v6;
}

export function ipsetName(names: ProbeNames, f: Family): string {
  return `${names.ipset}-v${f}`;
}

/** `ipset` arguments that create a family's set if missing. */
export function ipsetCreateArgs(names: ProbeNames, f: Family): string[] {
  return ['create', ipsetName(names, f), 'hash:ip', 'family', f === 4 ? 'inet' : 'inet6', 'comment', '-exist'];
}

/** The iptables side: a chain hooked first into nat POSTROUTING (ahead of any masquerade). */
export function probeIptablesRules(names: ProbeNames, f: Family, snat: string): RuleSet {
  const c = names.chain;
  return {
    nat: {
      jumps: [`-A POSTROUTING -j ${c}`],
      insertJumps: true,
      chains: { [c]: [`-A ${c} -p tcp -m owner --socket-exists -m set --match-set ${ipsetName(names, f)} dst -j SNAT --to-source ${snat}`] },
    },
  };
}

/** Entries of `ipset list NAME -o save`: pod IP → comment (pod UID). */
export function parseIpsetSave(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^add \S+ (\S+)(?: comment "([^"]*)")?/.exec(line.trim());
    if (m) out.set(m[1]!, m[2] ?? '');
  }
  return out;
}

function nftFam(f: Family): string {
  return f === 4 ? 'ip' : 'ip6';
}

/**
 * Creates the family's table, set and chain if missing and rewrites the chain's one rule, keeping
 * the set's elements (an agent restart must not drop enrolled pods). Priority srcnat - 1 runs it
 * before iptables' nat POSTROUTING, so no MASQUERADE gets there first.
 */
export function renderProbeNftSetup(names: ProbeNames, f: Family, snat: string): string {
  const t = `${nftFam(f)} ${names.nftTable}`;
  const addr = f === 4 ? 'ipv4_addr' : 'ipv6_addr';
  return [
    `add table ${t}`,
    `add set ${t} ${PROBE_NFT_SET} { type ${addr}; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority 99; policy accept; }`,
    `flush chain ${t} postrouting`,
    `add rule ${t} postrouting meta l4proto tcp meta skuid 0-4294967295 ${nftFam(f)} daddr @${PROBE_NFT_SET} snat to ${snat}`,
    '',
  ].join('\n');
}

export function renderProbeNftTeardown(names: ProbeNames, f: Family): string {
  const t = `${nftFam(f)} ${names.nftTable}`;
  return `table ${t}\ndelete table ${t}\n`;
}

function quote(s: string): string {
  if (!/^[A-Za-z0-9._:/-]*$/.test(s)) throw new Error(`pod UID ${JSON.stringify(s)} has characters that cannot go in a set comment`);
  return `"${s}"`;
}

/** Adds or re-labels one element; add-delete-add makes it work whether or not it exists. */
export function renderProbeNftAdd(names: ProbeNames, f: Family, ip: string, uid: string): string {
  const s = `element ${nftFam(f)} ${names.nftTable} ${PROBE_NFT_SET}`;
  return `add ${s} { ${ip} }\ndelete ${s} { ${ip} }\nadd ${s} { ${ip} comment ${quote(uid)} }\n`;
}

/** Removes one element whether or not it exists. */
export function renderProbeNftDelete(names: ProbeNames, f: Family, ip: string): string {
  const s = `element ${nftFam(f)} ${names.nftTable} ${PROBE_NFT_SET}`;
  return `add ${s} { ${ip} }\ndelete ${s} { ${ip} }\n`;
}

/** Elements of `nft -j list set …`: IP → comment. */
export function parseNftSet(json: string): Map<string, string> {
  const out = new Map<string, string>();
  type Elem = string | { elem?: { val?: string; comment?: string } };
  const doc = JSON.parse(json) as { nftables?: { set?: { elem?: Elem[] } }[] };
  for (const item of doc.nftables ?? []) {
    for (const e of item.set?.elem ?? []) {
      if (typeof e === 'string') out.set(e, '');
      else if (e.elem?.val !== undefined) out.set(e.elem.val, e.elem.comment ?? '');
    }
  }
  return out;
}
