// In-pod rules for iptables (ARCHITECTURE.md §3, steps 2 and 5), pure: what the rules are, in the exact text that
// iptables-save prints back (so `check` can compare strings), and the restore transactions that
// install, rebuild or remove them without touching anyone else's rules.
import {
  CHAIN_OUTPUT, CHAIN_PRERT, OWN_CHAINS, PORT_DNS, PORT_INBOUND_HBONE, PORT_INBOUND_PLAINTEXT, PORT_OUTBOUND,
  RESTORE_MASK, TPROXY_MARK_MATCH, ZTUNNEL_MARK_MATCH, hex, type Family,
} from './constants.js';
import { loopback, probeSnat, type RedirectConfig } from './options.js';

export const TABLES = ['mangle', 'nat', 'raw'] as const;
export type TableName = (typeof TABLES)[number];

/** One table's share of the rules: our chains' contents and the jumps into them. */
export interface TableRules {
  /** `-A PREROUTING -j ISTIO_PRERT` lines, in the order they are appended. */
  jumps: string[];
  /** Insert the jumps at the top of their chains instead (they must run before others' NAT). */
  insertJumps?: boolean;
  /** Per own chain, its rules as iptables-save prints them (`-A ISTIO_OUTPUT …`). */
  chains: Record<string, string[]>;
}

export type RuleSet = Partial<Record<TableName, TableRules>>;

const NOT_ZT = `-m mark ! --mark ${ZTUNNEL_MARK_MATCH}`;

/** The rules of one family, in iptables-save's canonical spelling. */
export function iptablesRules(c: RedirectConfig, f: Family): RuleSet {
  const lo = loopback(f);
  const snat = `${probeSnat(c, f)}/${f === 4 ? 32 : 128}`;
  const P = `-A ${CHAIN_PRERT}`;
  const O = `-A ${CHAIN_OUTPUT}`;
  const jumps = [`-A PREROUTING -j ${CHAIN_PRERT}`, `-A OUTPUT -j ${CHAIN_OUTPUT}`];
  const rules: RuleSet = {
    mangle: {
      jumps,
      chains: {
        [CHAIN_PRERT]: [`${P} -m mark --mark ${ZTUNNEL_MARK_MATCH} -j CONNMARK --set-xmark ${TPROXY_MARK_MATCH}`],
        [CHAIN_OUTPUT]: [
          `${O} -m connmark --mark ${TPROXY_MARK_MATCH} -j CONNMARK --restore-mark --nfmask ${hex(RESTORE_MASK)} --ctmask ${hex(RESTORE_MASK)}`,
        ],
      },
    },
  };
  const natPre: string[] = [];
  for (const vif of c.virtualInterfaces) {
    natPre.push(`${P} -i ${vif} -p tcp -j REDIRECT --to-ports ${PORT_OUTBOUND}`, `${P} -i ${vif} -p tcp -j RETURN`);
  }
  if (!c.bypassInboundCapture) {
    natPre.push(
      `${P} -s ${snat} -p tcp -m tcp -j ACCEPT`,
      `${P} ! -d ${lo} -p tcp -m tcp ! --dport ${PORT_INBOUND_HBONE} ${NOT_ZT} -j REDIRECT --to-ports ${PORT_INBOUND_PLAINTEXT}`,
    );
  }
  const natOut = [`${O} -d ${snat} -p tcp -m tcp -j ACCEPT`];
  if (c.dnsCapture) {
    natOut.push(
      `${O} ! -o lo -p udp ${NOT_ZT} -m udp --dport 53 -j REDIRECT --to-ports ${PORT_DNS}`,
      `${O} ! -d ${lo} -p tcp -m tcp --dport 53 ${NOT_ZT} -j REDIRECT --to-ports ${PORT_DNS}`,
    );
  }
  natOut.push(
    `${O} -p tcp -m mark --mark ${TPROXY_MARK_MATCH} -j ACCEPT`,
    `${O} ! -d ${lo} -o lo -j ACCEPT`,
    `${O} ! -d ${lo} -p tcp ${NOT_ZT} -j REDIRECT --to-ports ${PORT_OUTBOUND}`,
  );
  rules.nat = { jumps, chains: { [CHAIN_PRERT]: natPre, [CHAIN_OUTPUT]: natOut } };
  if (c.dnsCapture) {
    rules.raw = {
      jumps,
      chains: {
        [CHAIN_PRERT]: [`${P} -p udp ${NOT_ZT} -m udp --sport 53 -j CT --zone 1`],
        [CHAIN_OUTPUT]: [`${O} -p udp -m mark --mark ${ZTUNNEL_MARK_MATCH} -m udp --dport 53 -j CT --zone 1`],
      },
    };
  }
  return rules;
}

/** `iptables-restore --noflush` input that installs a rule set into tables that do not have it yet. */
export function renderIptables(c: RedirectConfig, f: Family): string {
  return planApply(new Map(), iptablesRules(c, f));
}

/** What iptables-save shows of one table. */
export interface SavedTable {
  /** Chain name → policy (`-` for user chains). */
  chains: Map<string, string>;
  /** Every `-A` line, in order. */
  rules: string[];
}

export type Saved = Map<string, SavedTable>;

export function parseIptablesSave(text: string): Saved {
  const tables: Saved = new Map();
  let cur: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { chains: new Map(), rules: [] };
      tables.set(line.slice(1), cur);
    } else if (line === 'COMMIT') {
      cur = undefined;
    } else if (cur && line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      if (name) cur.chains.set(name, policy ?? '-');
    } else if (cur && line.startsWith('-A ')) {
      cur.rules.push(line);
    }
  }
  return tables;
}

/** Rules in other chains that jump into ours (the hooks), however many copies there are. */
function jumpsInto(t: SavedTable, own: readonly string[]): string[] {
  return t.rules.filter((r) => {
    const words = r.split(' ');
    const target = words[words.length - 1] ?? '';
    return words[words.length - 2] === '-j' && own.includes(target) && !own.includes(words[1] ?? '');
  });
}

function ownChains(t: SavedTable | undefined, own: readonly string[]): string[] {
  return t ? own.filter((c) => t.chains.has(c)) : [];
}

function removalLines(t: SavedTable, own: readonly string[]): string[] {
  const mine = ownChains(t, own);
  return [...jumpsInto(t, own).map((r) => `-D${r.slice(2)}`), ...mine.map((c) => `-F ${c}`), ...mine.map((c) => `-X ${c}`)];
}

function addJump(jump: string, insert: boolean): string {
  return insert ? jump.replace(/^-A (\S+)/, '-I $1 1') : jump;
}

/**
 * One `iptables-restore --noflush` transaction taking `current` to `desired`: our chains are
 * declared (which creates or flushes them), every existing hook into them is deleted and the hooks
 * appended once, so applying twice leaves one copy; tables the rule set no longer uses lose our
 * chains. Returns '' when there is nothing to do.
 */
export function planApply(current: Saved, desired: RuleSet, own: readonly string[] = OWN_CHAINS): string {
  const out: string[] = [];
  for (const table of TABLES) {
    const want = desired[table];
    const have = current.get(table);
    if (want) {
      const chains = Object.keys(want.chains);
      out.push(`*${table}`, ...chains.map((c) => `:${c} - [0:0]`));
      if (have) out.push(...jumpsInto(have, own).map((r) => `-D${r.slice(2)}`));
      for (const c of ownChains(have, own)) if (!chains.includes(c)) out.push(`-F ${c}`, `-X ${c}`);
      const jumps = want.jumps.map((j) => addJump(j, !!want.insertJumps));
      // Inserting at position 1 one after the other would reverse them.
      if (want.insertJumps) jumps.reverse();
      out.push(...jumps, ...chains.flatMap((c) => want.chains[c] ?? []), 'COMMIT');
    } else if (have) {
      const lines = removalLines(have, own);
      if (lines.length > 0) out.push(`*${table}`, ...lines, 'COMMIT');
    }
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/** The transaction that removes every hook and chain of ours, and nothing else; '' when none exist. */
export function planRemoval(current: Saved, own: readonly string[] = OWN_CHAINS): string {
  return planApply(current, {}, own);
}

export interface Comparison {
  /** Things the rule set wants that are missing or wrong. */
  missing: string[];
  /** Things of ours present that the rule set does not want. */
  extra: string[];
  /** Whether anything of ours exists at all. */
  anyPresent: boolean;
}

/** How far `current` is from `desired`, in words for logs. */
export function compareIptables(current: Saved, desired: RuleSet, label: string, own: readonly string[] = OWN_CHAINS): Comparison {
  const missing: string[] = [];
  const extra: string[] = [];
  let anyPresent = false;
  for (const table of TABLES) {
    const want = desired[table];
    const have = current.get(table);
    const jumps = have ? jumpsInto(have, own) : [];
    const mine = ownChains(have, own);
    if (jumps.length > 0 || mine.length > 0) anyPresent = true;
    if (!want) {
      for (const j of jumps) extra.push(`${label} ${table}: ${j}`);
      for (const c of mine) extra.push(`${label} ${table}: chain ${c}`);
      continue;
    }
    for (const j of want.jumps) {
      const n = jumps.filter((x) => x === j).length;
      if (n === 0) missing.push(`${label} ${table}: ${j}`);
      if (n > 1) extra.push(`${label} ${table}: ${n - 1} extra copies of ${j}`);
    }
    for (const j of jumps) if (!want.jumps.includes(j)) extra.push(`${label} ${table}: ${j}`);
    for (const [chain, rules] of Object.entries(want.chains)) {
      if (!have?.chains.has(chain)) {
        missing.push(`${label} ${table}: chain ${chain}`);
        continue;
      }
      const got = have.rules.filter((r) => r.startsWith(`-A ${chain} `));
      if (got.join('\n') !== rules.join('\n')) missing.push(`${label} ${table}: chain ${chain} has ${got.length} rules that differ from the ${rules.length} expected`);
    }
  }
  return { missing, extra, anyPresent };
}
