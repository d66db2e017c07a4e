// Test helpers (not tests): namespace pairs, normalised dumps of the rules, tagged servers.
import net from 'node:net';
import { exec } from '../../../lib/sys/exec.js';
import { ipBatch } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { getOriginalDst } from '../../../lib/native/index.js';

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} creates network namespaces: run it as root (iproute2, iptables, nftables)`);
}

/** A pod namespace joined by a veth pair to an "outside" one: pod 10.99.0.2, outside 10.99.0.1 (and fd99::2/::1). */
export async function podPair(pod: string, outside: string, tag: string): Promise<void> {
  await addTestNetns(pod);
  await addTestNetns(outside);
  await ipBatch([`link add p${tag} netns ${pod} type veth peer name o${tag} netns ${outside}`]);
  await ipBatch([`addr add 10.99.0.2/24 dev p${tag}`, `addr add fd99::2/64 dev p${tag} nodad`, `link set p${tag} up`,
    'route add default via 10.99.0.1', 'route add default via fd99::1'], pod);
  await ipBatch([`addr add 10.99.0.1/24 dev o${tag}`, `addr add fd99::1/64 dev o${tag} nodad`, `link set o${tag} up`], outside);
}

/** iptables-save without counters, comments, or tables that hold nothing (nf_tables keeps emptied tables). */
export async function iptablesDump(ns: string, save: string): Promise<string> {
  const r = await exec('ip', ['netns', 'exec', ns, save]);
  const out: string[] = [];
  for (const block of r.stdout.split(/^(?=\*)/m)) {
    const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'));
    const hasRules = lines.some((l) => l.startsWith('-A '));
    const userChains = lines.some((l) => /^:\S+ - /.test(l));
    const nonDefaultPolicy = lines.some((l) => /^:\S+ (DROP|REJECT)/.test(l));
    if (hasRules || userChains || nonDefaultPolicy) out.push(lines.join('\n'));
  }
  return out.sort().join('\n');
}

export async function nftDump(ns: string): Promise<string> {
  return (await exec('ip', ['netns', 'exec', ns, 'nft', '-s', 'list', 'ruleset'])).stdout;
}

export async function ipRules(ns: string): Promise<string> {
  const a = await exec('ip', ['-n', ns, '-4', 'rule', 'show']);
  const b = await exec('ip', ['-n', ns, '-6', 'rule', 'show']);
  const c = await exec('ip', ['-n', ns, '-4', 'route', 'show', 'table', 'all']);
  return [a.stdout, b.stdout, c.stdout].join('\n');
}

/** A server that answers every connection with `<tag> <original destination> <peer address>` and closes. */
export function tagged(server: net.Server, tag: string): net.Server {
  return server.on('connection', (s: net.Socket) => {
    let dst = '?';
    try {
      const d = getOriginalDst(s);
      dst = `${d.address}:${d.port}`;
    } catch {
      // no conntrack entry: not NATed
    }
    s.on('error', () => undefined);
    s.end(`${tag} ${dst} ${s.remoteAddress ?? '?'}`);
  });
}

/** Everything a connected socket receives until the peer ends it. */
export function readAll(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.once('end', () => {
      s.end();
      resolve(Buffer.concat(got).toString());
    });
    s.once('error', reject);
  });
}

export function closeServer(s: net.Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}
