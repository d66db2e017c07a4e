// The same in-pod rules for native nftables, pure: one table of our own per family (`ip ambit`,
// `ip6 ambit`), so that installing, rebuilding and removing are each a single `nft -f`
// transaction on that table alone, and nobody else's tables are touched.
import {
  MARK_MASK, NFT_TABLE, PORT_DNS, PORT_INBOUND_HBONE, PORT_INBOUND_PLAINTEXT, PORT_OUTBOUND, TPROXY_MARK, ZTUNNEL_MARK,
  type Family,
} from './constants.js';
import { probeSnat, type RedirectConfig } from './options.js';

export interface NftChain {
  name: string;
  /** `type … hook … priority …;` */
  hook: string;
  rules: string[];
}

function x8(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

export function nftFamily(f: Family): 'ip' | 'ip6' {
  return f === 4 ? 'ip' : 'ip6';
}

const MARK = `meta mark & ${x8(MARK_MASK)}`;
const NOT_ZT = `${MARK} != ${x8(ZTUNNEL_MARK)}`;

/** The chains of one family's table; same semantics as iptablesRules (iptables.ts), chain by chain. */
export function nftChains(c: RedirectConfig, f: Family): NftChain[] {
  const ip = nftFamily(f);
  const lo = f === 4 ? '127.0.0.1' : '::1';
  const snat = probeSnat(c, f);
  const natPre: string[] = [];
  for (const vif of c.virtualInterfaces) {
    natPre.push(`iifname "${vif}" meta l4proto tcp redirect to :${PORT_OUTBOUND}`, `iifname "${vif}" meta l4proto tcp return`);
  }
  if (!c.bypassInboundCapture) {
    natPre.push(
      `${ip} saddr ${snat} meta l4proto tcp accept`,
      `${ip} daddr != ${lo} tcp dport != ${PORT_INBOUND_HBONE} ${NOT_ZT} redirect to :${PORT_INBOUND_PLAINTEXT}`,
    );
  }
  const natOut = [`${ip} daddr ${snat} meta l4proto tcp accept`];
  if (c.dnsCapture) {
    natOut.push(
      `oifname != "lo" udp dport 53 ${NOT_ZT} redirect to :${PORT_DNS}`,
      `${ip} daddr != ${lo} tcp dport 53 ${NOT_ZT} redirect to :${PORT_DNS}`,
    );
  }
  natOut.push(
    `meta l4proto tcp ${MARK} == ${x8(TPROXY_MARK)} accept`,
    `${ip} daddr != ${lo} oifname "lo" accept`,
    `${ip} daddr != ${lo} meta l4proto tcp ${NOT_ZT} redirect to :${PORT_OUTBOUND}`,
  );
  const chains: NftChain[] = [
    {
      name: 'mangle_prerouting',
      hook: 'type filter hook prerouting priority -150; policy accept;',
      rules: [`${MARK} == ${x8(ZTUNNEL_MARK)} ct mark set ct mark & ${x8(~MARK_MASK >>> 0)} | ${x8(TPROXY_MARK)}`],
    },
    {
      // A route chain, as iptables' mangle OUTPUT: a changed mark re-routes the packet (table 100).
      name: 'mangle_output',
      hook: 'type route hook output priority -150; policy accept;',
      rules: [`ct mark & ${x8(MARK_MASK)} == ${x8(TPROXY_MARK)} meta mark set ct mark`],
    },
    { name: 'nat_prerouting', hook: 'type nat hook prerouting priority -100; policy accept;', rules: natPre },
    { name: 'nat_output', hook: 'type nat hook output priority -100; policy accept;', rules: natOut },
  ];
  if (c.dnsCapture) {
    chains.push(
      { name: 'raw_prerouting', hook: 'type filter hook prerouting priority -300; policy accept;', rules: [`udp sport 53 ${NOT_ZT} ct zone set 1`] },
      { name: 'raw_output', hook: 'type filter hook output priority -300; policy accept;', rules: [`udp dport 53 ${MARK} == ${x8(ZTUNNEL_MARK)} ct zone set 1`] },
    );
  }
  return chains;
}

/**
 * `nft -f` input that (re)creates one family's table: declaring then deleting it first makes the
 * transaction work whether or not it exists, so applying twice leaves one copy.
 */
export function renderNft(c: RedirectConfig, f: Family): string {
  const fam = nftFamily(f);
  const body = nftChains(c, f).flatMap((ch) => [`\tchain ${ch.name} {`, `\t\t${ch.hook}`, ...ch.rules.map((r) => `\t\t${r}`), '\t}']);
  return [`table ${fam} ${NFT_TABLE}`, `delete table ${fam} ${NFT_TABLE}`, `table ${fam} ${NFT_TABLE} {`, ...body, '}', ''].join('\n');
}

/** Removes one family's table if it exists; nothing else. */
export function renderNftRemoval(f: Family): string {
  const fam = nftFamily(f);
  return `table ${fam} ${NFT_TABLE}\ndelete table ${fam} ${NFT_TABLE}\n`;
}

/** Chain name → number of rules, from `nft -j list table …` output. */
export function parseNftRuleCounts(json: string): Map<string, number> {
  const counts = new Map<string, number>();
  const doc = JSON.parse(json) as { nftables?: { chain?: { name?: string }; rule?: { chain?: string } }[] };
  for (const item of doc.nftables ?? []) {
    if (item.chain?.name !== undefined) counts.set(item.chain.name, counts.get(item.chain.name) ?? 0);
    const r = item.rule;
    if (r?.chain !== undefined) counts.set(r.chain, (counts.get(r.chain) ?? 0) + 1);
  }
  return counts;
}

/** Differences between a table's rule counts and the chains wanted; a table is replaced whole, so counts suffice. */
export function compareNft(counts: Map<string, number> | undefined, want: NftChain[], label: string): string[] {
  if (!counts) return [`${label}: table ${NFT_TABLE} missing`];
  const out: string[] = [];
  for (const ch of want) {
    const n = counts.get(ch.name);
    if (n === undefined) out.push(`${label}: chain ${ch.name} missing`);
    else if (n !== ch.rules.length) out.push(`${label}: chain ${ch.name} has ${n} rules, expected ${ch.rules.length}`);
  }
  for (const name of counts.keys()) if (!want.some((ch) => ch.name === name)) out.push(`${label}: unexpected chain ${name}`);
  return out;
}
