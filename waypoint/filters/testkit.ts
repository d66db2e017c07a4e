// Helpers for the policy filter tests: resources built from plain objects, string matches as
// AuthorizationPolicy writes them, and a real redis-server of the test's own.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import ipaddr from 'ipaddr.js';
import { L7AuthorizationSchema, type L7Authorization } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import { RateLimitSchema, type RateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';

export const WAYPOINT = 'default/waypoint';

export const authorization = (init: MessageInitShape<typeof L7AuthorizationSchema>): L7Authorization =>
  create(L7AuthorizationSchema, { namespace: 'default', targets: [{ waypoint: WAYPOINT }], ...init } as MessageInitShape<typeof L7AuthorizationSchema>);

export const rateLimit = (init: MessageInitShape<typeof RateLimitSchema>): RateLimit =>
  create(RateLimitSchema, { namespace: 'default', targets: [{ waypoint: WAYPOINT }], ...init } as MessageInitShape<typeof RateLimitSchema>);

type Sm = { matchType: { case: 'exact' | 'prefix' | 'suffix'; value: string } | { case: 'presence'; value: boolean } };

/** An AuthorizationPolicy value as the compiler turns it into a StringMatch (`*` wildcards). */
export function sm(v: string): Sm {
  if (v === '*') return { matchType: { case: 'presence', value: true } };
  if (v.startsWith('*')) return { matchType: { case: 'suffix', value: v.slice(1) } };
  if (v.endsWith('*')) return { matchType: { case: 'prefix', value: v.slice(0, -1) } };
  return { matchType: { case: 'exact', value: v } };
}

export const sms = (...vs: string[]): Sm[] => vs.map(sm);

export function cidr(s: string): { address: Uint8Array; length: number } {
  const [ip, len] = ipaddr.parseCIDR(s);
  return { address: Uint8Array.from(ip.toByteArray()), length: len };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** A redis-server on a free loopback port with a temp dir, no persistence; stopped by PID. */
export class RedisServer {
  #proc: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(port?: number): Promise<RedisServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'ambit-redis-'));
    const s = new RedisServer(port ?? (await freePort()), dir);
    await s.#spawn();
    return s;
  }

  async #spawn(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    let err = '';
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${proc.exitCode}: ${err.trim()}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not accept connections within 10s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the server (SIGTERM to its PID) and waits for it to exit. */
  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null || p.pid === undefined) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    process.kill(p.pid, 'SIGTERM');
    await exited;
  }

  /** Starts it again on the same port (after stop). */
  async restart(): Promise<void> {
    if (this.#proc) return;
    await this.#spawn();
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
