import { isIPv4 } from 'node:net';
import type { Answer } from 'dns-packet';
import { canonicalName, inZone, ipFromDashed, isDnsLabel, isReverseName } from './names.js';
import type { DnsSnapshot, NameEntry } from './records.js';

/**
 * Answers one question from a snapshot, as CoreDNS's `kubernetes` plugin would. Pure.
 * Owner names echo the question's spelling (clients may randomise case, and compare it).
 */

export type LookupResult =
  | {
      kind: 'answer';
      rcode: 'NOERROR' | 'NXDOMAIN';
      answers: Answer[];
      authorities: Answer[];
      additionals: Answer[];
    }
  | {
      /** Not ours: send upstream; with no upstream, answer `otherwise`. */
      kind: 'forward';
      otherwise: 'REFUSED' | 'NXDOMAIN';
    };

export interface Question {
  name: string;
  type: string;
}

export function lookup(snap: DnsSnapshot, q: Question): LookupResult {
  const name = canonicalName(q.name);
  const qtype = q.type.toUpperCase();
  const ttl = snap.options.ttl;
  if (isReverseName(name)) {
    const targets = snap.ptr.get(name);
    // Unknown reverse names fall through (CoreDNS `fallthrough in-addr.arpa ip6.arpa`).
    if (!targets) return { kind: 'forward', otherwise: 'NXDOMAIN' };
    const answers: Answer[] =
      qtype === 'PTR' || qtype === 'ANY' ? targets.map((data) => ({ name: q.name, type: 'PTR', ttl, data })) : [];
    return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
  }
  if (!inZone(name, snap.zone)) return { kind: 'forward', otherwise: 'REFUSED' };

  const podIp = podAddress(snap, name);
  if (podIp) {
    const family = isIPv4(podIp) ? 'A' : 'AAAA';
    if (qtype === family || qtype === 'ANY') return ok([{ name: q.name, type: family, ttl, data: podIp }]);
    return noData(snap);
  }
  const entry = snap.names.get(name);
  if (!entry) return { kind: 'answer', rcode: 'NXDOMAIN', answers: [], authorities: [soa(snap)], additionals: [] };
  if (entry.cname !== undefined) return ok([{ name: q.name, type: 'CNAME', ttl, data: entry.cname }]);

  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const any = qtype === 'ANY';
  if (qtype === 'A' || any) for (const data of entry.a) answers.push({ name: q.name, type: 'A', ttl, data });
  if (qtype === 'AAAA' || any) for (const data of entry.aaaa) answers.push({ name: q.name, type: 'AAAA', ttl, data });
  if (qtype === 'TXT' || any) for (const data of entry.txt) answers.push({ name: q.name, type: 'TXT', ttl, data });
  if (qtype === 'SRV' || any) {
    const seen = new Set<string>();
    for (const data of entry.srv) {
      answers.push({ name: q.name, type: 'SRV', ttl, data });
      if (seen.has(data.target)) continue;
      seen.add(data.target);
      additionals.push(...addresses(snap, data.target, snap.names.get(data.target)));
    }
  }
  if (name === snap.zone) {
    if (qtype === 'SOA' || any) answers.push({ ...soa(snap), name: q.name });
    if (qtype === 'NS' || any) {
      const nsName = `ns.dns.${snap.zone}`;
      answers.push({ name: q.name, type: 'NS', ttl, data: nsName });
      additionals.push(...addresses(snap, nsName, snap.names.get(nsName)));
    }
  }
  if (answers.length === 0) return noData(snap);
  return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals };
}

function ok(answers: Answer[]): LookupResult {
  return { kind: 'answer', rcode: 'NOERROR', answers, authorities: [], additionals: [] };
}

/** The name exists but has nothing of the asked type: NOERROR, empty, SOA for negative caching. */
function noData(snap: DnsSnapshot): LookupResult {
  return { kind: 'answer', rcode: 'NOERROR', answers: [], authorities: [soa(snap)], additionals: [] };
}

function addresses(snap: DnsSnapshot, name: string, e: NameEntry | undefined): Answer[] {
  if (!e) return [];
  const ttl = snap.options.ttl;
  return [
    ...e.a.map((data): Answer => ({ name, type: 'A', ttl, data })),
    ...e.aaaa.map((data): Answer => ({ name, type: 'AAAA', ttl, data })),
  ];
}

/** `<dashed-ip>.<ns>.pod.<zone>` → the address, if pod records are on and (when verified) the pod exists. */
function podAddress(snap: DnsSnapshot, name: string): string | undefined {
  const mode = snap.options.pods;
  if (mode === 'disabled' || name.length <= snap.zone.length) return undefined;
  const labels = name.slice(0, -snap.zone.length - 1).split('.');
  if (labels.length !== 3 || labels[2] !== 'pod') return undefined;
  const [label = '', ns = ''] = labels;
  const ip = ipFromDashed(label);
  if (!ip) return undefined;
  if (mode === 'insecure') return isDnsLabel(ns) ? ip : undefined;
  return snap.podIps.has(`${ns}|${ip}`) ? ip : undefined;
}

export function soa(snap: DnsSnapshot): Answer {
  const ttl = snap.options.ttl;
  return {
    name: snap.zone,
    type: 'SOA',
    ttl,
    data: {
      mname: `ns.dns.${snap.zone}`,
      rname: `hostmaster.${snap.zone}`,
      serial: snap.serial,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
}
