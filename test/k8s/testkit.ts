/**
 * A real Kubernetes control plane for tier-4 tests: etcd, kube-apiserver and (optionally)
 * kube-controller-manager on loopback, with generated certificates, an admin client certificate
 * in system:masters, a service-account signing key and issuer, and RBAC. Every run has its own
 * ports and temp dir; everything is stopped by PID and removed in the test's teardown, and the
 * kernel kills the processes if the test process dies first (setpriv --pdeathsig).
 *
 * The binaries come from test/k8s/setup (pinned in versions.json); without them the tests fail
 * with a message saying to run it.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, accessSync, constants, openSync, closeSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

const execFileP = promisify(execFile);

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('test/k8s/testkit: cannot find the repository root (no package.json above it)');
    d = up;
  }
  return d;
}

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  helm: string;
}

/**
 * Where test/k8s/setup puts the pinned binaries; throws, naming what is missing, if it has not
 * run. `need`: the binaries the caller runs (default all).
 */
export function binaries(need: ReadonlyArray<keyof Binaries> = ['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubectl', 'helm']): Binaries {
  const root = repoRoot();
  const versions = JSON.parse(readFileSync(join(root, 'test', 'k8s', 'versions.json'), 'utf8')) as { kubernetes: string; etcd: string; helm: string };
  const cache = join(process.env.AMBIT_CACHE ?? '/var/cache/ambit', 'k8s');
  const kube = join(cache, `kubernetes-${versions.kubernetes}`, 'bin');
  const b: Binaries = {
    etcd: join(cache, `etcd-${versions.etcd}`, 'bin', 'etcd'),
    kubeApiserver: join(kube, 'kube-apiserver'),
    kubeControllerManager: join(kube, 'kube-controller-manager'),
    kubectl: join(kube, 'kubectl'),
    helm: join(cache, `helm-${versions.helm}`, 'bin', 'helm'),
  };
  const missing = need.map((k) => b[k]).filter((p) => {
    try {
      accessSync(p, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new Error(
      `the Kubernetes test binaries are missing (${missing.join(', ')}): run test/k8s/setup first ` +
        `(it builds kube-apiserver ${versions.kubernetes}, etcd ${versions.etcd}, helm ${versions.helm} with Go; ~10 min cold, cached afterwards)`,
    );
  }
  return b;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** A process the kit started, with its log file. */
class Proc {
  readonly child: ChildProcess;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exit: Promise<void>;

  constructor(
    readonly name: string,
    readonly logFile: string,
    bin: string,
    args: string[],
  ) {
    const fd = openSync(logFile, 'a');
    // --pdeathsig: if this test process dies without its teardown, the kernel kills the child.
    const [file, argv] = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', bin, ...args]] : [bin, args];
    this.child = spawn(file, argv, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    live.add(this);
    this.exit = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        live.delete(this);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exit.then(() => true), sleep(graceMs).then(() => false)]);
    if (!killed) {
      this.child.kill('SIGKILL');
      await this.exit;
    }
  }

  /** Rejects once the process has exited, naming it and showing its log. */
  failure(): Promise<never> {
    return this.exit.then(() => {
      throw new Error(`${this.name} exited (${this.exited?.code ?? this.exited?.signal}) during start; its log ${this.logFile} ends:\n${this.logTail()}`);
    });
  }
}

const live = new Set<Proc>();
const liveDirs = new Set<string>();
// A test process that ends without its teardown (tap's timeout exits it) still takes its
// processes (also killed by the kernel through --pdeathsig) and its files with it.
process.once('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
});

/** Removes the temp dirs of test processes that died without cleaning up (SIGKILL, a crash). */
function sweepStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = /^ambit-k8s-(\d+)-/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, proc?: Proc): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  const poll = (async () => {
    while (performance.now() < deadline) {
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}${proc ? `; ${proc.name} log ends:\n${proc.logTail()}` : ''}`);
  })();
  return proc ? Promise.race([poll, proc.failure()]) : poll;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd: dir });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA, the apiserver's serving cert, an admin client cert (system:masters), a service-account key. */
async function makeCerts(dir: string): Promise<void> {
  await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=ambit-test-ca']);
  writeFileSync(join(dir, 'serving.ext'), 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  const issue = async (name: string, subj: string, ext: string): Promise<void> => {
    await openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
    await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext]);
  };
  await Promise.all([
    issue('apiserver', '/CN=kube-apiserver', 'serving.ext'),
    issue('admin', '/O=system:masters/CN=ambit-test-admin', 'client.ext'),
    openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']),
  ]);
}

function writeKubeconfig(path: string, dir: string, server: string): void {
  const b64 = (f: string): string => readFileSync(join(dir, f)).toString('base64');
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': b64('ca.crt') } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': b64('admin.crt'), 'client-key-data': b64('admin.key') } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'admin' } }],
    'current-context': 'test',
  };
  writeFileSync(path, stringify(cfg), { mode: 0o600 });
}

/** GET over TLS with the admin certificate; resolves with status and body. */
function adminGet(dir: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = httpsRequest(
      { host: '127.0.0.1', port, path, ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, 'admin.crt')), key: readFileSync(join(dir, 'admin.key')), timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface Apiserver {
  name: string;
  opts: ApiserverOptions;
  port: number;
  server: string;
  /** A kubeconfig for this apiserver with the admin (system:masters) user. */
  kubeconfig: string;
  proc: Proc;
}

export interface ApiserverOptions {
  /**
   * false: serve every watch from etcd (`--watch-cache=false`). With its watch cache an apiserver
   * answers a watch from a version older than the cache with the current objects instead of 410
   * Gone; from etcd, a compacted version is Gone, which is how a long-lived watch meets it.
   */
  watchCache?: boolean;
}

export interface StartOptions {
  /** Run kube-controller-manager too (default true): default ServiceAccounts, namespace deletion, GC. */
  controllerManager?: boolean;
}

/** Measured durations of the start, in ms, for reports. */
export interface StartTimes {
  certs: number;
  etcd: number;
  apiserver: number;
  controllerManager?: number;
}

export class TestCluster {
  readonly bins: Binaries;
  readonly dir: string;
  etcdPort = 0;
  private etcd?: Proc;
  private controllerManager?: Proc;
  private apiservers: Apiserver[] = [];
  readonly times: StartTimes = { certs: 0, etcd: 0, apiserver: 0 };

  constructor() {
    this.bins = binaries(['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubectl']);
    sweepStaleDirs();
    this.dir = mkdtempSync(join(tmpdir(), `ambit-k8s-${process.pid}-`));
    liveDirs.add(this.dir);
  }

  /** The first apiserver, which `kubeconfig` and `kc` talk to. */
  get main(): Apiserver {
    const a = this.apiservers[0];
    if (!a) throw new Error('the test cluster has no apiserver; call start() first');
    return a;
  }

  get kubeconfig(): string {
    return this.main.kubeconfig;
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.etcdPort}`;
  }

  /** A client-node KubeConfig for the main apiserver. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfig);
    return kc;
  }

  async start(opts: StartOptions = {}): Promise<this> {
    let t0 = performance.now();
    await makeCerts(this.dir);
    this.times.certs = Math.round(performance.now() - t0);
    t0 = performance.now();
    await this.startEtcd();
    this.times.etcd = Math.round(performance.now() - t0);
    t0 = performance.now();
    this.apiservers.push(await this.launchApiserver(await freePort(), 'kube-apiserver'));
    this.times.apiserver = Math.round(performance.now() - t0);
    if (opts.controllerManager ?? true) {
      t0 = performance.now();
      await this.startControllerManager();
      this.times.controllerManager = Math.round(performance.now() - t0);
    }
    return this;
  }

  private async startEtcd(): Promise<void> {
    // Free ports can be taken by someone else before etcd binds them; try fresh ones then.
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      const data = join(this.dir, `etcd-data`);
      rmSync(data, { recursive: true, force: true });
      const proc = new Proc('etcd', join(this.dir, 'etcd.log'), this.bins.etcd, [
        '--name=test',
        `--data-dir=${data}`,
        `--listen-client-urls=http://127.0.0.1:${client}`,
        `--advertise-client-urls=http://127.0.0.1:${client}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=test=http://127.0.0.1:${peer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ]);
      try {
        await until('etcd /health', 20_000, async () => {
          const res = await fetch(`http://127.0.0.1:${client}/health`);
          return res.ok && ((await res.json()) as { health?: string }).health === 'true' ? true : undefined;
        }, proc);
        this.etcd = proc;
        this.etcdPort = client;
        return;
      } catch (err) {
        await proc.stop(1_000);
        if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
      }
    }
  }

  private async launchApiserver(port: number, name: string, opts: ApiserverOptions = {}): Promise<Apiserver> {
    const d = this.dir;
    const proc = new Proc(name, join(d, `${name}.log`), this.bins.kubeApiserver, [
      `--etcd-servers=${this.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${join(d, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(d, 'apiserver.key')}`,
      `--client-ca-file=${join(d, 'ca.crt')}`,
      `--service-account-key-file=${join(d, 'sa.key')}`,
      `--service-account-signing-key-file=${join(d, 'sa.key')}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      // With the default reconciler the apiserver exits at once: 127.0.0.1 is not a valid endpoint.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--allow-privileged=true',
      `--cert-dir=${join(d, `${name}-certs`)}`,
      ...(opts.watchCache === false ? ['--watch-cache=false'] : []),
    ]);
    const server = `https://127.0.0.1:${port}`;
    await until(`${name} /readyz`, 60_000, async () => ((await adminGet(d, port, '/readyz')).status === 200 ? true : undefined), proc);
    const kubeconfig = join(d, `${name}.kubeconfig`);
    writeKubeconfig(kubeconfig, d, server);
    return { name, opts, port, server, kubeconfig, proc };
  }

  private async startControllerManager(): Promise<void> {
    const d = this.dir;
    const proc = new Proc('kube-controller-manager', join(d, 'kube-controller-manager.log'), this.bins.kubeControllerManager, [
      `--kubeconfig=${this.kubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      `--service-account-private-key-file=${join(d, 'sa.key')}`,
      `--root-ca-file=${join(d, 'ca.crt')}`,
      '--use-service-account-credentials=false',
      // No kubelet reports for test Nodes: the node-lifecycle controller would taint and evict.
      '--controllers=*,-node-lifecycle-controller,-node-ipam-controller',
    ]);
    this.controllerManager = proc;
    // Its serviceaccount controller creating `default` in `default` shows the controllers run.
    await until('kube-controller-manager to create the default ServiceAccount', 60_000, async () =>
      (await adminGet(d, this.main.port, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200 ? true : undefined, proc);
  }

  /** Stops an apiserver, the main one by default (SIGTERM, then SIGKILL); etcd and the data stay. */
  async stopApiserver(a: Apiserver = this.main, graceMs = 5_000): Promise<void> {
    await a.proc.stop(graceMs);
  }

  /**
   * Starts an apiserver again (stopping it first if it runs) on the same port with the same
   * options and data; the Apiserver object is updated in place, so kubeconfigs stay valid.
   */
  async startApiserver(a: Apiserver = this.main): Promise<void> {
    await a.proc.stop();
    const next = await this.launchApiserver(a.port, a.name, a.opts);
    a.proc = next.proc;
  }

  /** Another apiserver on the same etcd: to change objects while the main one is down, or to watch without a watch cache. */
  async addApiserver(opts: ApiserverOptions = {}): Promise<Apiserver> {
    const a = await this.launchApiserver(await freePort(), `kube-apiserver-${this.apiservers.length + 1}`, opts);
    this.apiservers.push(a);
    return a;
  }

  /**
   * Compacts etcd's history up to its current revision, so every older resourceVersion is gone
   * (410 Gone) for watches served from etcd. Returns that revision.
   */
  async compactEtcd(): Promise<number> {
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${this.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${await res.text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const range = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 });
    const revision = Number((range.header as { revision?: string } | undefined)?.revision);
    if (!Number.isSafeInteger(revision)) throw new Error(`etcd /v3/kv/range gave no header.revision: ${JSON.stringify(range)}`);
    await post('/v3/kv/compaction', { revision, physical: true });
    return revision;
  }

  /** Runs the pinned kubectl against the main apiserver; rejects with its stderr. */
  async kubectl(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.bins.kubectl, [`--kubeconfig=${this.kubeconfig}`, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr || err.message}`));
        else resolve(stdout);
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Stops every process by PID (controller manager, apiservers, etcd) and removes the temp dir. */
  async stop(): Promise<void> {
    await this.controllerManager?.stop();
    await Promise.all(this.apiservers.map((a) => a.proc.stop()));
    await this.etcd?.stop();
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/**
 * Starts a cluster for a tap test and stops it in the test's teardown (which tap runs when the
 * test fails too). A start that fails stops what it had started.
 */
export async function startCluster(t: { teardown(fn: () => unknown): void }, opts: StartOptions = {}): Promise<TestCluster> {
  const c = new TestCluster();
  t.teardown(() => c.stop());
  await c.start(opts);
  return c;
}
