// One-process loopback figures for a single tunnel: plain TCP, Node TLS 1.3, HBONE over lib/hbone's
// transport, and HBONE over node:http2 (kept here only as the "before" figure). Bulk Gb/s for one
// direction and 1 KiB ping-pong latency. Run alone with `node dist/test/bench/tunnel.js [rows…]`
// (rows: tcp, tls, hbone, node-h2), or from run.ts through tunnelRows().
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { dial, openTunnel } from '../../lib/hbone/client.js';
import { H2_CONNECTION_WINDOW, H2_MAX_FRAME_SIZE, H2_MAX_SESSION_MEMORY_MB, H2_STREAM_WINDOW } from '../../lib/hbone/constants.js';
import { HboneServer } from '../../lib/hbone/server.js';
import { createTestPki } from '../../lib/hbone/testkit.js';
import { defaultContextCache, serverTlsOptions, type Credentials } from '../../lib/hbone/tls.js';
import { median, type Row } from './table.js';

const SERVER_ID = 'spiffe://cluster.local/ns/bench/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/bench/sa/client';
const BULK_BYTES = Number(process.env.BENCH_TUNNEL_MIB ?? 512) * 1024 * 1024;
const WRITE_SIZE = 64 << 10;
const PINGS = Number(process.env.BENCH_TUNNEL_PINGS ?? 5000);
const MSG = 1024;

export type TunnelKind = 'tcp' | 'tls' | 'hbone' | 'node-h2';
export const TUNNEL_KINDS: readonly TunnelKind[] = ['tcp', 'tls', 'hbone', 'node-h2'];
const LABELS: Record<TunnelKind, string> = {
  tcp: 'plain TCP pipe',
  tls: 'Node TLS 1.3 pipe',
  hbone: 'HBONE tunnel (lib/hbone transport)',
  'node-h2': 'HBONE over node:http2 (before)',
};

type Mode = 'sink' | 'echo';

/** What the server end does with a tunnel's bytes: count them (answering EOF with EOF) or echo. */
function serverEnd(mode: Mode): Duplex {
  if (mode === 'echo') return new PassThrough();
  return new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
    final(cb) {
      this.push(null);
      cb();
    },
  });
}

/** Attaches a raw socket (TCP or TLS) to a server end. */
function serveSocket(s: Duplex, mode: Mode): void {
  s.on('error', () => {});
  if (mode === 'echo') s.pipe(s);
  else {
    s.resume();
    s.on('end', () => s.end());
  }
}

interface Harness {
  /** A fresh client end of one tunnel whose server end runs `mode`. */
  open(mode: Mode): Promise<Duplex>;
  close(): Promise<void>;
}

async function credentials(): Promise<{ server: Credentials; client: Credentials }> {
  const pki = await createTestPki();
  return { server: await pki.issue(SERVER_ID), client: await pki.issue(CLIENT_ID) };
}

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function harness(kind: TunnelKind, creds: { server: Credentials; client: Credentials }): Promise<Harness> {
  let mode: Mode = 'sink';
  if (kind === 'tcp' || kind === 'tls') {
    const server =
      kind === 'tcp'
        ? net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => serveSocket(s, mode))
        : tls.createServer({ ...serverTlsOptions(creds.server, 10_000), allowHalfOpen: true }, (s) => serveSocket(s, mode));
    const port = await listen(server);
    return {
      async open(m) {
        mode = m;
        if (kind === 'tcp') {
          const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
          await once(s, 'connect');
          return s;
        }
        const ctx = defaultContextCache.entry(creds.client).clientContext();
        // allowHalfOpen is honoured by tls.connect although its type omits it.
        const s = tls.connect({ port, host: '127.0.0.1', secureContext: ctx, allowHalfOpen: true, checkServerIdentity: () => undefined } as tls.ConnectionOptions);
        s.setNoDelay(true);
        await once(s, 'secureConnect');
        return s;
      },
      close: () => new Promise((r) => server.close(() => r())),
    };
  }
  if (kind === 'hbone') {
    const server = new HboneServer({ credentials: () => creds.server, onConnect: async () => ({ status: 200, upstream: serverEnd(mode) }), keepAlive: { intervalMs: 0 } });
    const addr = await server.listen({ port: 0, host: '127.0.0.1' });
    const conn = await dial({ host: '127.0.0.1', port: addr.port, credentials: creds.client, expectedIdentities: [SERVER_ID], keepAlive: { intervalMs: 0 } });
    return {
      async open(m) {
        mode = m;
        return openTunnel(conn, { authority: '127.0.0.1:9' });
      },
      async close() {
        conn.session.destroy();
        await server.close();
      },
    };
  }
  // node:http2 with the settings lib/hbone used before its own transport.
  const settings = { initialWindowSize: H2_STREAM_WINDOW, maxFrameSize: H2_MAX_FRAME_SIZE };
  const server = http2.createSecureServer({ ...serverTlsOptions(creds.server, 10_000), settings, maxSessionMemory: H2_MAX_SESSION_MEMORY_MB });
  server.on('session', (s) => s.once('connect', () => s.setLocalWindowSize(H2_CONNECTION_WINDOW)));
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.on('error', () => {});
    const up = serverEnd(mode);
    stream.pipe(up).pipe(stream);
  });
  const port = await listen(server);
  const ctx = defaultContextCache.entry(creds.client).clientContext();
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    createConnection: () => tls.connect({ port, host: '127.0.0.1', secureContext: ctx, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined }),
    settings: { ...settings, enablePush: false },
    maxSessionMemory: H2_MAX_SESSION_MEMORY_MB,
  });
  await once(session, 'connect');
  session.setLocalWindowSize(H2_CONNECTION_WINDOW);
  return {
    async open(m) {
      mode = m;
      const s = session.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:9' });
      await once(s, 'response');
      return s;
    },
    async close() {
      session.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Writes BULK_BYTES with backpressure, half-closes and waits for the server's EOF; Gb/s. */
async function bulk(s: Duplex): Promise<number> {
  const chunk = Buffer.alloc(WRITE_SIZE, 0x61);
  s.resume();
  const ended = once(s, 'end');
  const t0 = performance.now();
  for (let sent = 0; sent < BULK_BYTES; sent += WRITE_SIZE) {
    if (!s.write(chunk)) await once(s, 'drain');
  }
  s.end();
  await ended;
  const secs = (performance.now() - t0) / 1000;
  s.destroy();
  return (BULK_BYTES * 8) / secs / 1e9;
}

/** PINGS sequential 1 KiB round trips; per-round-trip milliseconds. */
async function pingPong(s: Duplex): Promise<number[]> {
  const msg = Buffer.alloc(MSG, 0x62);
  const rtts: number[] = [];
  let got = 0;
  let wake: (() => void) | undefined;
  s.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= MSG && wake) wake();
  });
  for (let i = 0; i < PINGS; i++) {
    const t0 = performance.now();
    const back = new Promise<void>((r) => (wake = r));
    s.write(msg);
    await back;
    got -= MSG;
    rtts.push(performance.now() - t0);
  }
  s.destroy();
  return rtts.slice(Math.min(200, rtts.length >> 2)); // the first round trips warm the JIT up
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface TunnelFigures {
  gbps: number[];
  p50: number[];
  p99: number[];
}

/** `rounds` rounds of every kind, interleaved so that all kinds see the same machine load. */
export async function measureTunnels(kinds: readonly TunnelKind[] = TUNNEL_KINDS, rounds = 3): Promise<Map<TunnelKind, TunnelFigures>> {
  const creds = await credentials();
  const out = new Map<TunnelKind, TunnelFigures>(kinds.map((k) => [k, { gbps: [], p50: [], p99: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const k of kinds) {
      const h = await harness(k, creds);
      try {
        const f = out.get(k)!;
        f.gbps.push(await bulk(await h.open('sink')));
        const rtts = await pingPong(await h.open('echo'));
        f.p50.push(percentile(rtts, 50));
        f.p99.push(percentile(rtts, 99));
      } finally {
        await h.close();
      }
    }
  }
  return out;
}

/** The bench rows: bulk and ping-pong per kind, medians of `rounds`; HBONE relative to TLS. */
export async function tunnelRows(rounds = 3): Promise<Row[]> {
  const figs = await measureTunnels(TUNNEL_KINDS, rounds);
  const tlsGbps = median(figs.get('tls')!.gbps);
  const rows: Row[] = [];
  for (const [k, f] of figs) {
    const g = median(f.gbps);
    const rel = k === 'tcp' || k === 'tls' ? '' : ` (${(g / tlsGbps).toFixed(2)}× TLS)`;
    rows.push({ scenario: 'one tunnel, one process, loopback', metric: `${LABELS[k]}: bulk (Gb/s)`, baseline: `${g.toFixed(2)}${rel}` });
    rows.push({ scenario: 'one tunnel, one process, loopback', metric: `${LABELS[k]}: 1 KiB ping-pong p50 / p99 (ms)`, baseline: `${median(f.p50).toFixed(3)} / ${median(f.p99).toFixed(3)}` });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `--json [--rounds N]`: the rows for run.ts as one JSON line; otherwise the named kinds, readable.
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const ri = args.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(args[ri + 1]) : Number(process.env.BENCH_ROUNDS ?? (json ? 3 : 1));
  const named = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--rounds') as TunnelKind[];
  const work = json
    ? tunnelRows(rounds).then((rows) => console.log(JSON.stringify({ rows })))
    : measureTunnels(named.length ? named : TUNNEL_KINDS, rounds).then((figs) => {
        for (const [k, f] of figs) console.log(`${LABELS[k].padEnd(40)} bulk ${median(f.gbps).toFixed(2)} Gb/s   ping-pong p50 ${median(f.p50).toFixed(3)} ms  p99 ${median(f.p99).toFixed(3)} ms`);
      });
  work.then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
