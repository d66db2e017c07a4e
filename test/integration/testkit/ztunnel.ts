// Test bed for ztunnel in real namespaces: pods joined by veths to a bridge in a "node" namespace,
// the node agent's in-pod redirection (cni/agent's renderer, as the node agent installs it), apps
// that greet with the peer address they see and then echo, an in-process CA, and log capture.
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { PodRedirector } from '../../../cni/agent/rules/redirect.js';
import { CertificateAuthority } from '../../../control/ca/authority.js';
import { FileAuthenticator } from '../../../control/ca/authn.js';
import { NodeAuthorizer, StaticPodIndex } from '../../../control/ca/node-auth.js';
import { CertificateService } from '../../../control/ca/service.js';
import { Signer } from '../../../control/ca/signer.js';
import { makeTempDir, removeDir } from '../../../control/ca/testkit.js';
import { connectInNetns, listenInNetns } from '../../../lib/native/index.js';
import { delNetns, ipBatch, netnsPath } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { CaRequestError, type CaClient, type CertificateRequest } from '../../../lib/ca-client/ca-client.js';

export interface Scope {
  teardown(fn: () => unknown): void;
}

export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} creates network namespaces and iptables rules: run it as root (needs iproute2 and iptables)`);
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// === network ===

export interface PodNs {
  name: string;
  /** netns name and path. */
  ns: string;
  path: string;
  ip: string;
}

/**
 * A node namespace with a bridge at `<subnet>.1/24`, and one namespace per pod on it, each with a
 * default route via the bridge (Service VIPs must be routable for REDIRECT to see them).
 */
export async function buildNetwork(t: Scope, prefix: string, subnet: string, pods: Array<{ name: string; host: number }>): Promise<{ node: string; pods: Record<string, PodNs> }> {
  const node = `${prefix}n`;
  const out: Record<string, PodNs> = {};
  const all = [node, ...pods.map((p) => `${prefix}${p.name}`)];
  t.teardown(async () => {
    for (const ns of all) await delNetns(ns);
  });
  await addTestNetns(node);
  await ipBatch(['link add br0 type bridge', `addr add ${subnet}.1/24 dev br0`, 'link set br0 up'], node);
  for (const [i, p] of pods.entries()) {
    const ns = `${prefix}${p.name}`;
    const ip = `${subnet}.${p.host}`;
    await addTestNetns(ns);
    await ipBatch([`link add eth0 netns ${ns} type veth peer name v${i} netns ${node}`]);
    await ipBatch([`link set v${i} master br0`, `link set v${i} up`], node);
    await ipBatch([`addr add ${ip}/24 dev eth0`, 'link set eth0 up', `route add default via ${subnet}.1`], ns);
    out[p.name] = { name: p.name, ns, path: netnsPath(ns), ip };
  }
  return { node, pods: out };
}

/** The node agent's in-pod rules (ARCHITECTURE.md §3) without DNS capture (no DNS proxy here). */
export async function redirectPod(pod: PodNs): Promise<void> {
  await new PodRedirector({ backend: 'iptables' }).apply(pod.path, { dnsCapture: false });
}

// === apps ===

export interface App {
  server: net.Server;
  /** Peer addresses of every connection, in order. */
  peers: string[];
  close(): Promise<void>;
}

/** A TCP app in `pod` that greets with `<tag> <peer ip>\n` and then echoes. */
export async function startApp(t: Scope, pod: PodNs, port: number, tag: string): Promise<App> {
  const server = await listenInNetns(pod.path, '0.0.0.0', port);
  const peers: string[] = [];
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
    peers.push(s.remoteAddress ?? '?');
    s.write(`${tag} ${s.remoteAddress}\n`);
    s.pipe(s);
  });
  const app: App = {
    server,
    peers,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  t.teardown(() => app.close());
  return app;
}

/** A client connection from inside a pod (unmarked, so the pod's rules capture it). */
export class Session {
  private buf = '';
  private waiters: Array<() => void> = [];
  readonly closed: Promise<void>;
  ended = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('error', () => {});
    // The peer's FIN is the end for these tests (the socket is allowHalfOpen): answer it.
    socket.once('end', () => {
      this.ended = true;
      this.wake();
      socket.end();
    });
    this.closed = new Promise((r) => socket.once('close', () => {
      this.ended = true;
      this.wake();
      r();
    }));
  }

  static async open(pod: PodNs, host: string, port: number): Promise<Session> {
    return new Session(await connectInNetns(pod.path, host, port, { timeoutMs: 5000 }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next line, or undefined if the connection closed first. */
  async line(timeoutMs = 10_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\n');
      if (i >= 0) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        return l;
      }
      if (this.ended) return undefined;
      if (Date.now() > deadline) throw new Error(`no line within ${timeoutMs} ms (have "${this.buf}")`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  /** Sends a line and reads the echo. */
  async roundTrip(msg: string): Promise<string | undefined> {
    this.socket.write(`${msg}\n`);
    return this.line();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** One exchange: the greeting, then `payload` echoed; `greeting` undefined when the connection was refused. */
export async function talk(pod: PodNs, host: string, port: number, payload = 'ping'): Promise<{ greeting?: string; echo?: string }> {
  let s: Session;
  try {
    s = await Session.open(pod, host, port);
  } catch {
    return {};
  }
  try {
    const greeting = await s.line();
    if (greeting === undefined) return {};
    const echo = await s.roundTrip(payload);
    return { greeting, ...(echo !== undefined ? { echo } : {}) };
  } finally {
    s.socket.end();
    s.destroy();
  }
}

// === CA ===

/** The control plane's certificate service in process, behind ztunnel's CaClient interface; one per node credential. */
export class InProcessCa {
  readonly requests: CertificateRequest[] = [];
  private constructor(
    private readonly svc: CertificateService,
    private readonly auth: FileAuthenticator,
    readonly rootPem: string,
  ) {}

  static async start(t: Scope, pods: Array<{ nodeName: string; namespace: string; serviceAccount: string }>): Promise<InProcessCa> {
    const dir = await makeTempDir('ambit-zt-ca');
    t.teardown(() => removeDir(dir));
    const ca = await CertificateAuthority.open({ dir });
    const auth = await FileAuthenticator.open({ dir });
    const svc = new CertificateService({
      authenticator: auth,
      authorizer: new NodeAuthorizer({ podIndex: new StaticPodIndex(pods), trustDomain: ca.trustDomain }),
      signer: new Signer(ca, { backdateSeconds: 5 }),
    });
    return new InProcessCa(svc, auth, ca.rootPem());
  }

  clientFor(nodeName: string): CaClient {
    const credential = this.auth.issueNodeCredential(nodeName);
    return {
      createCertificate: async (req) => {
        this.requests.push(req);
        const r = await this.svc.handleCreateCertificate({ credential, csrPem: req.csrPem, validitySeconds: req.ttlSeconds, impersonatedIdentity: req.identity });
        if (!r.ok) throw new CaRequestError('REFUSED', r.error.message);
        return r.certChain;
      },
    };
  }
}

// === logs and metrics ===

export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  constructor(level = 'info') {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
        // ZT_TEST_LOG=1 shows the components' logs while a test runs.
        if (process.env.ZT_TEST_LOG) process.stderr.write(chunk);
        cb();
      },
    });
    this.logger = pino({ level }, sink);
  }
  find(msg: string | RegExp, fields: Record<string, unknown> = {}): Array<Record<string, unknown>> {
    return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))) && Object.entries(fields).every(([k, v]) => l[k] === v));
  }
}

export async function fetchText(url: string): Promise<{ status: number; body: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text() };
}

/** Sum of the samples of `metric` whose labels include all of `labels`. */
export function metricValue(text: string, metric: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const body = line.slice(metric.length + 1, close);
    const have = Object.fromEntries([...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

