// The Kubernetes control plane of `ambit up --kubernetes`: etcd, kube-apiserver and
// kube-controller-manager (the pinned builds of test/k8s/setup) in the control-plane namespace,
// the apiserver on `<address>:6443` for the nodes' pods and through a loopback port-forward for
// the host (the runner, kubectl, helm), with
// certificates made by openssl, an admin client certificate in system:masters, a service-account
// signing key and RBAC. They run as supervised components (restarted if they die, their PIDs
// recorded so that the next `up` or `down` kills what a dead runner left behind).
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Logger } from '../../../lib/telemetry/log.js';
import { Component } from '../components.js';
import type { KubeBinaries } from './binaries.js';

const execFileP = promisify(execFile);

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const SERVICE_CIDR = '10.96.0.0/16';
export const APISERVER_PORT = 6443;

export interface KubeControlPlaneOptions {
  bins: KubeBinaries;
  /** Certificates, etcd data and the kubeconfig go here. */
  dir: string;
  /** Where the components' logs and PID files go. */
  componentsDir: string;
  log: Logger;
  /** The control-plane namespace and its address, where the apiserver listens. */
  netns: string;
  address: string;
  /** Makes a host loopback port-forward to `address:port` in `netns`; returns `127.0.0.1:<port>`. */
  forward: (port: number) => Promise<string>;
  /** Readiness wait per process (default 90 s). */
  timeoutMs?: number;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd: dir });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

/** The kubeconfig of the admin user (pure). */
export function adminKubeconfig(server: string, caPem: Buffer, certPem: Buffer, keyPem: Buffer): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'ambit-local', cluster: { server, 'certificate-authority-data': caPem.toString('base64') } }],
    users: [{ name: 'ambit-admin', user: { 'client-certificate-data': certPem.toString('base64'), 'client-key-data': keyPem.toString('base64') } }],
    contexts: [{ name: 'ambit-local', context: { cluster: 'ambit-local', user: 'ambit-admin' } }],
    'current-context': 'ambit-local',
  });
}

export class KubeControlPlane {
  private readonly components: Component[] = [];
  /** The apiserver as the host reaches it (a loopback port-forward). */
  server = '';
  /** The admin kubeconfig for the host; `inClusterKubeconfig` names the apiserver's own address. */
  readonly kubeconfig: string;
  readonly inClusterKubeconfig: string;

  constructor(private readonly o: KubeControlPlaneOptions) {
    this.kubeconfig = path.join(o.dir, 'kubeconfig');
    this.inClusterKubeconfig = path.join(o.dir, 'kubeconfig.cluster');
  }

  get inClusterServer(): string {
    return `https://${this.o.address}:${APISERVER_PORT}`;
  }

  private file(name: string): string {
    return path.join(this.o.dir, name);
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    writeFileSync(this.file('serving.ext'), `subjectAltName=IP:127.0.0.1,IP:${this.o.address},IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`);
    await this.makeCerts();
    // The namespace is the control plane's own: etcd takes its standard ports on its loopback.
    const [etcdPort, peerPort] = [2379, 2380];
    this.run('etcd', this.o.bins.etcd, [
      '--name=ambit',
      `--data-dir=${this.file('etcd-data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=ambit=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    // Inside the namespace's loopback: the apiserver's readiness covers etcd's.
    const port = APISERVER_PORT;
    this.run('kube-apiserver', this.o.bins.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--bind-address=${this.o.address}`,
      `--advertise-address=${this.o.address}`,
      `--secure-port=${port}`,
      `--tls-cert-file=${this.file('apiserver.crt')}`,
      `--tls-private-key-file=${this.file('apiserver.key')}`,
      `--client-ca-file=${this.file('ca.crt')}`,
      `--service-account-key-file=${this.file('sa.key')}`,
      `--service-account-signing-key-file=${this.file('sa.key')}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      // With the default reconciler the apiserver exits at once: 127.0.0.1 is not a valid endpoint.
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      `--cert-dir=${this.file('apiserver-certs')}`,
    ]);
    this.server = `https://${await this.o.forward(port)}`;
    await this.until('kube-apiserver /readyz', async () => (await this.adminGet('/readyz')) === 200);
    const [ca, cert, key] = ['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFileSync(this.file(f))) as [Buffer, Buffer, Buffer];
    writeFileSync(this.kubeconfig, adminKubeconfig(this.server, ca, cert, key), { mode: 0o600 });
    writeFileSync(this.inClusterKubeconfig, adminKubeconfig(this.inClusterServer, ca, cert, key), { mode: 0o600 });
    this.run('kube-controller-manager', this.o.bins.kubeControllerManager, [
      `--kubeconfig=${this.inClusterKubeconfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      `--service-account-private-key-file=${this.file('sa.key')}`,
      `--root-ca-file=${this.file('ca.crt')}`,
      '--use-service-account-credentials=false',
      // The node runtime keeps its Node's Ready condition but no Lease: without this the
      // node-lifecycle controller would taint the nodes and evict their pods. Pod CIDRs are the
      // fabric's, not node-ipam's.
      '--controllers=*,-node-lifecycle-controller,-node-ipam-controller',
    ]);
    // Its serviceaccount controller creating `default` in `default` shows the controllers run.
    await this.until('kube-controller-manager (the default ServiceAccount)', async () => (await this.adminGet('/api/v1/namespaces/default/serviceaccounts/default')) === 200);
  }

  private run(name: string, bin: string, args: string[]): void {
    const c = new Component({ name, netns: this.o.netns, argv: [bin, ...args], dir: this.o.componentsDir, log: this.o.log });
    this.components.push(c.start());
  }

  private async until(what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + (this.o.timeoutMs ?? 90_000);
    let last = '';
    while (Date.now() < deadline) {
      try {
        if (await probe()) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}; see the logs in ${this.o.componentsDir}`);
  }

  private adminGet(p: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const r = httpsRequest(`${this.server}${p}`, { ca: readFileSync(this.file('ca.crt')), cert: readFileSync(this.file('admin.crt')), key: readFileSync(this.file('admin.key')), timeout: 5_000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', reject);
      r.end();
    });
  }

  private async makeCerts(): Promise<void> {
    const d = this.o.dir;
    await openssl(d, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '365', '-subj', '/CN=ambit-local-kubernetes-ca']);
    writeFileSync(this.file('client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
    const issue = async (name: string, subj: string, ext: string): Promise<void> => {
      await openssl(d, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
      await openssl(d, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '365', '-extfile', ext]);
    };
    await Promise.all([
      issue('apiserver', '/CN=kube-apiserver', 'serving.ext'),
      issue('admin', '/O=system:masters/CN=ambit-admin', 'client.ext'),
      openssl(d, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key']),
    ]);
  }

  /** Stops the controller manager, the apiserver and etcd, in that order, by PID. */
  async stop(): Promise<void> {
    for (const c of [...this.components].reverse()) await c.stop();
    this.components.length = 0;
  }
}
