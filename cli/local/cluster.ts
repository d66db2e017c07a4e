// The composition root of `ambit up`: the namespace fabric, the store, the controllers, a kubelet
// and a service proxy per node, cluster DNS, and port-forwards from the host's loopback.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectInNetns } from '../../lib/native/index.js';
import { openStore } from '../../lib/store/index.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { preflight } from '../../lib/sys/preflight.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { ENDPOINTS, NAMESPACE, NODE, POD, SERVICE, type Endpoints, type Pod, type Service } from '../../lib/k8s/types.js';
import { ControllerManager } from './controllers/manager.js';
import { Informer, debounced } from './controllers/informer.js';
import { DNS_VIP } from './controllers/vip.js';
import { Component, killComponentLeftovers } from './components.js';
import { Kubelet, PodSetupError, type PodNetwork } from './kubelet.js';
import { clusterPrefix, DASHBOARD_FORWARD, DASHBOARD_PORT, layout, type ClusterInfo, type ClusterStep, type Layout } from './layout.js';
import { createCluster, teardown, type ClusterNetwork, type NodeNetwork } from './net/fabric.js';
import { createPodNetwork, deletePodNetwork, setupNodeCni, type CniNode, type PluginConf } from './net/cni.js';
import { ServiceProxy } from './net/kube-proxy.js';
import { startPortForward, type PortForward } from './net/port-forward.js';
import { toProxyInput } from './service-map.js';
import { meshCredentialEnv } from './mesh-credentials.js';
import { killLeftovers, netnsLauncher, pidsFilePath, PodRuntime } from './runtime/index.js';
import { nodeHostPath, recordMountPoints, removeMountPoints } from './runtime/host-paths.js';
import { hostMountPoints, type BindMount } from './runtime/mount-ns.js';
import { issueNodeCredential } from '../../lib/credentials/node-credential.js';
import { installPlugin as installCniPlugin } from '../../lib/cni-plugin/install.js';
import type { KubeStore } from '../../lib/store/kube.js';
import type { KubeBinaries } from './kube/binaries.js';
import { KubeControlPlane } from './kube/control-plane.js';
import { PodBinder } from './kube/binder.js';
import { apiserverEndpoints, confirmPodDeletion, kubernetesServiceEnv, markNodeReady, PodEventRecorder } from './kube/objects.js';
import { kubeVolumeApi } from './kube/volume-api.js';
import { startPodVolumes } from './runtime/pod-volumes.js';

export interface LocalClusterOptions {
  stateDir: string;
  nodes: number;
  log: Logger;
  /** The `ambit` entry point (dist/cli/main.js) that pods and components run. */
  ambitBin: string;
  /**
   * Run the mesh data plane: a CNI node agent and a ztunnel in every node namespace, with
   * `ambit-cni` chained after bridge + host-local. Default true.
   */
  mesh?: boolean;
  /**
   * Kubernetes mode (`ambit up --kubernetes`): the store is a real etcd + kube-apiserver +
   * kube-controller-manager in the control-plane namespace, Ambit binds pods to nodes, and the
   * mesh comes from the Helm charts instead of the runner (so `mesh` is ignored).
   */
  kubernetes?: { bins: KubeBinaries };
  /** Called whenever a build step starts or ends, with every step so far. */
  onProgress?: (steps: readonly ClusterStep[]) => void;
  /** Where ztunnels and waypoints send spans; default the control plane's embedded receiver. */
  otlpEndpoint?: string;
}

export interface ForwardSpec {
  name: string;
  /** A Service `ns/name` and its port, reached from node 1 through its VIP. */
  service: string;
  port: number;
  hostPort?: number;
}

/** Cleans up whatever an earlier runner of this state directory left behind. */
export async function cleanupStale(stateDir: string, log: Logger): Promise<void> {
  const l = layout(stateDir);
  if (existsSync(l.pods)) {
    for (const d of readdirSync(l.pods)) {
      const killed = killLeftovers(pidsFilePath(path.join(l.pods, d, 'logs')));
      if (killed.length) log.info({ pod: d, killed }, 'killed leftover container processes');
    }
  }
  const killed = killComponentLeftovers(l.components);
  if (killed.length) log.info({ killed }, 'killed leftover component processes');
  await teardown(clusterPrefix(stateDir), { log, stateDir });
  removeMountPoints(mountPointsFile(l));
  rmSync(l.pods, { recursive: true, force: true });
  rmSync(l.cni, { recursive: true, force: true });
  rmSync(path.join(l.root, 'kube'), { recursive: true, force: true });
  rmSync(l.cluster, { force: true });
}

export class LocalCluster {
  readonly prefix: string;
  readonly l: Layout;
  store!: ClusterStore;
  net!: ClusterNetwork;
  private manager?: ControllerManager;
  /** Kubernetes mode: the control plane and the binder standing in for kube-scheduler. */
  kube?: KubeControlPlane;
  private binder?: PodBinder;
  private kubelets: Kubelet[] = [];
  private proxies: ServiceProxy[] = [];
  private components: Component[] = [];
  private forwards: PortForward[] = [];
  private svcInformer?: Informer<Service>;
  private epInformer?: Informer<Endpoints>;
  private proxyLoop?: ReturnType<typeof debounced>;
  readonly forwardAddrs: Record<string, string> = {};
  readonly steps: ClusterStep[] = [];
  /** Whether cluster.json said `ready` once (it then keeps saying so). */
  private ready = false;

  constructor(private readonly o: LocalClusterOptions) {
    this.prefix = clusterPrefix(o.stateDir);
    this.l = layout(o.stateDir);
  }

  get log(): Logger {
    return this.o.log;
  }

  /** Runs one build step, recording it (cluster.json, onProgress) as it starts and ends. */
  async step<T>(name: string, fn: () => Promise<T> | T, detail?: (r: T) => string | undefined): Promise<T> {
    const s: ClusterStep = { name, state: 'running' };
    this.steps.push(s);
    this.progressed();
    const t0 = Date.now();
    try {
      const r = await fn();
      const d = detail?.(r);
      Object.assign(s, { state: 'done', ms: Date.now() - t0 }, d ? { detail: d } : {});
      return r;
    } catch (e) {
      Object.assign(s, { state: 'failed', ms: Date.now() - t0, detail: (e as Error).message.split('\n')[0] });
      throw e;
    } finally {
      this.progressed();
    }
  }

  private progressed(): void {
    if (existsSync(this.l.root)) this.writeInfo();
    this.o.onProgress?.(this.steps);
  }

  async start(): Promise<void> {
    const log = this.o.log;
    await this.step('preflight: system tools', () => preflight((m) => log.info(m)));
    await cleanupStale(this.o.stateDir, log);
    mkdirSync(this.l.root, { recursive: true });
    this.writeInfo();
    this.net = await this.step(`network: a fabric bridge and ${this.o.nodes} node namespace(s)`, () => createCluster({ prefix: this.prefix, nodes: this.o.nodes, replace: true, log }), (n) => n.nodes.map((x) => `${x.name} ${x.address}`).join(', '));
    if (this.o.kubernetes) {
      const bins = this.o.kubernetes.bins;
      await this.step('Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager', async () => {
        this.kube = new KubeControlPlane({
          bins,
          dir: path.join(this.l.root, 'kube'),
          componentsDir: this.l.components,
          netns: this.net.control.netns,
          address: this.net.control.address,
          log,
          forward: async (port) => {
            const pf = await this.forwardTo({ name: 'kube-apiserver', netns: this.net.control.netns, host: this.net.control.address, port });
            return `${pf.address}:${pf.port}`;
          },
        });
        await this.kube.start();
        this.store = openStore({ kube: true, kubeconfig: this.kube.kubeconfig }, { logger: log.child({ component: 'store' }), fieldManager: 'ambit-node' });
        log.info({ kubeconfig: this.kube.kubeconfig, server: this.kube.server }, 'Kubernetes control plane ready');
      });
    } else {
      this.store = openStore(this.l.store);
    }
    await this.step('cluster objects: nodes, kube-dns', () => this.seedObjects());
    await this.step('cluster DNS', () => this.startDns());
    if (this.kube) {
      // kube-controller-manager runs the controllers; Ambit only binds pods.
      this.binder = new PodBinder(this.store as KubeStore, log.child({ component: 'binder' })).start();
    } else {
      await this.step('control plane (ambit control): xDS and certificates', () => this.startControlPlane());
      this.manager = new ControllerManager(this.store, log.child({ component: 'controllers' }));
      this.manager.start();
    }
    const binDir = this.installBin();
    for (const node of this.net.nodes) {
      const mesh = this.o.mesh !== false && !this.kube;
      await this.step(`node ${node.name}: ${mesh ? 'ztunnel, CNI agent, ' : ''}kubelet`, async () => {
        const plugins = mesh ? await this.startMeshNode(node, binDir) : [];
        await this.startNode(node, plugins, binDir);
      });
    }
    this.startServiceProxies();
  }

  /**
   * Pods and components find `ambit` on their PATH, as if it were in their image; the same
   * directory is a CNI bin dir holding `ambit-cni`.
   */
  private installBin(): string {
    const bin = this.binDir;
    mkdirSync(bin, { recursive: true });
    rmSync(path.join(bin, 'ambit'), { force: true });
    symlinkSync(this.o.ambitBin, path.join(bin, 'ambit'));
    return bin;
  }

  /** A node's mesh agents: `ambit cni-agent` and `ambit ztunnel`, sharing the node's ZDS socket. */
  private async startMeshNode(node: NodeNetwork, binDir: string): Promise<PluginConf[]> {
    await installCniPlugin(binDir);
    const dir = path.join(this.l.root, 'nodes', node.name);
    mkdirSync(dir, { recursive: true });
    const zds = path.join(dir, 'ztunnel.sock');
    const cniSocket = path.join(dir, 'cni.sock');
    // No DNS capture: ztunnel has no DNS proxy yet, so pods keep using cluster DNS directly.
    this.startComponent(`cni-agent-${node.name}`, node.netns, ['cni-agent', '--node', node.name, '--state-dir', this.l.root, '--cni-socket', cniSocket, '--zds-socket', zds, '--no-dns-capture']);
    this.startComponent(`ztunnel-${node.name}`, node.netns, [
      'ztunnel',
      '--node-name', node.name,
      '--instance-ip', node.address,
      '--xds-address', `${this.net.control.address}:15012`,
      '--ca-root', path.join(this.l.ca, 'root-cert.pem'),
      '--credential-file', path.join(this.credentialsDir, `${node.name}.token`),
      '--zds-socket', zds,
      '--otlp-endpoint', this.otlpEndpoint,
    ]);
    // Easier to see into: each ztunnel's admin (/config_dump) and metrics on the host's loopback.
    await this.forwardTo({ name: `ztunnel ${node.name} admin (/config_dump)`, netns: node.netns, host: '127.0.0.1', port: 15000 });
    await this.forwardTo({ name: `ztunnel ${node.name} metrics`, netns: node.netns, host: node.address, port: 15020 });
    // storeDir: while the agent is down, pods outside the mesh still start (the plugin judges them).
    return [{ type: 'ambit-cni', agentSocket: cniSocket, storeDir: this.l.store, excludeNamespaces: ['kube-system', 'istio-system'] }];
  }

  /** The OTLP/HTTP traces URL the mesh's proxies export to. */
  get otlpEndpoint(): string {
    return this.o.otlpEndpoint ?? `http://${this.net.control.address}:15014/v1/traces`;
  }

  get binDir(): string {
    return path.join(this.l.root, 'bin');
  }

  private async seedObjects(): Promise<void> {
    const s = this.store;
    // Pods of an earlier run are gone with their namespaces; their Deployments recreate them.
    for (const p of await s.list(POD)) await s.delete({ ...POD, namespace: p.metadata.namespace!, name: p.metadata.name });
    for (const ns of ['default', 'kube-system']) {
      if (!(await s.get({ ...NAMESPACE, name: ns }))) await s.create({ ...NAMESPACE, metadata: { name: ns } });
    }
    for (const n of this.net.nodes) {
      const node: KubeObject = {
        ...NODE,
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'ambit.dev/netns': n.netns } },
        spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
        status: {
          addresses: [{ type: 'InternalIP', address: n.address }, { type: 'Hostname', address: n.name }],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastTransitionTime: new Date().toISOString() }],
        },
      };
      await s.apply(node);
      if (this.kube) await markNodeReady(s as KubeStore, n.name);
    }
    const dns: Service = {
      ...SERVICE,
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
      spec: { clusterIP: DNS_VIP, clusterIPs: [DNS_VIP], type: 'ClusterIP', ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }] },
    };
    await s.apply(dns);
    const ep: Endpoints = {
      ...ENDPOINTS,
      metadata: { name: 'kube-dns', namespace: 'kube-system' },
      subsets: [{ addresses: [{ ip: this.net.control.dnsAddress }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }],
    };
    await s.apply(ep);
    // The apiserver's own Service has no endpoints with `--endpoint-reconciler-type=none`.
    if (this.kube) await s.apply(apiserverEndpoints(this.net.control.address));
  }

  private startDns(): void {
    const c = new Component({
      name: 'cluster-dns',
      netns: this.net.control.netns,
      argv: [process.execPath, this.o.ambitBin, 'cluster-dns', '--state-dir', this.l.root, ...(this.kube ? ['--kubeconfig', this.kube.inClusterKubeconfig] : []), '--listen', `${this.net.control.dnsAddress}:53`],
      dir: this.l.components,
      log: this.o.log,
    });
    this.components.push(c.start());
  }

  /** What kubelet gives every container: the API server's Service, for in-cluster clients. */
  private async kubernetesEnv(): Promise<Record<string, string>> {
    const svc = await this.store.get<Service>({ ...SERVICE, namespace: 'default', name: 'kubernetes' });
    const ip = svc?.spec?.clusterIP;
    const port = svc?.spec?.ports?.[0]?.port ?? 443;
    if (!ip) throw new Error('the API server has no Service default/kubernetes with a clusterIP; in-cluster clients could not find it');
    return kubernetesServiceEnv(ip, port);
  }

  /** Where node credentials go: one `<node>.token` per node, read by that node's agents. */
  get credentialsDir(): string {
    return path.join(this.l.root, 'credentials');
  }

  /**
   * `ambit control` in the control-plane namespace, on the File back end of this cluster. Node
   * credentials are issued first, so the control plane and the nodes share one signing key.
   */
  private async startControlPlane(): Promise<void> {
    for (const n of this.net.nodes) {
      await issueNodeCredential({ caDir: this.l.ca, credentialsDir: this.credentialsDir, nodeName: n.name, logger: this.o.log });
    }
    this.startComponent('control', this.net.control.netns, ['control', '--state-dir', this.l.root, '--grpc-address', `${this.net.control.address}:15012`, '--waypoint-otlp-endpoint', this.otlpEndpoint]);
    const root = path.join(this.l.ca, 'root-cert.pem');
    const deadline = Date.now() + 60_000;
    while (!existsSync(root)) {
      if (Date.now() > deadline) throw new Error(`the control plane did not publish ${root} within 60 s; see ${this.l.components}/control.log`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Loopback inside the namespace: /debug/* answers loopback peers only.
    await this.forwardTo({ name: 'control (metrics, /debug/model)', netns: this.net.control.netns, host: '127.0.0.1', port: 15014 });
    // `ambit dashboard`: the control plane's loopback-only dashboard, on the same host port when free.
    const dashboard = { name: DASHBOARD_FORWARD, netns: this.net.control.netns, host: '127.0.0.1', port: DASHBOARD_PORT };
    await this.forwardTo({ ...dashboard, hostPort: DASHBOARD_PORT }).catch(() => this.forwardTo(dashboard));
  }

  /** Runs an extra component (control plane, node agents) supervised like cluster DNS. */
  startComponent(name: string, netns: string | undefined, args: string[], env: Record<string, string> = {}): Component {
    const c = new Component({ name, ...(netns ? { netns } : {}), argv: [process.execPath, this.o.ambitBin, ...args], env, dir: this.l.components, log: this.o.log });
    this.components.push(c.start());
    return c;
  }

  private async startNode(node: NodeNetwork, extraPlugins: PluginConf[], binDir: string): Promise<void> {
    const log = this.o.log.child({ node: node.name });
    const mountPoints = mountPointsFile(this.l);
    // Kubernetes mode: the node's host paths (hostPath volumes) are its own, under its root; its
    // CNI directories are the ones the CNI chart's agent installs into and chains.
    const root = path.join(this.l.root, 'nodes', node.name, 'root');
    const nodePaths = new Set<string>();
    const hostPath = (p: string): string => {
      const mapped = nodeHostPath(root, p);
      if (mapped !== path.normalize(p)) nodePaths.add(path.normalize(p));
      return mapped;
    };
    // What plugins open by the node's paths (the agent's socket); the CNI directories themselves are
    // read by the runtime through their host paths, and the host's own plugins must stay visible.
    const view = (): BindMount[] => {
      const mounts = [...nodePaths].filter((p) => !CNI_DIRS.includes(p) && existsSync(nodeHostPath(root, p))).map((p) => ({ source: nodeHostPath(root, p), target: p, readOnly: false }));
      recordMountPoints(mountPoints, hostMountPoints(mounts, existsSync));
      return mounts;
    };
    const cniOpts = this.kube
      ? { confDir: hostPath('/etc/cni/net.d'), cniPath: [hostPath('/opt/cni/bin'), '/usr/lib/cni', '/opt/cni/bin'], view }
      : { cniPath: ['/usr/lib/cni', '/opt/cni/bin', binDir] };
    const cni: CniNode = await setupNodeCni(this.prefix, node, this.l.root, { extraPlugins, ...cniOpts, log });
    const kubeEnv = this.kube ? await this.kubernetesEnv() : {};
    const events = this.kube ? new PodEventRecorder(this.store as KubeStore, node.name) : undefined;
    const dial = (host: string, port: number, timeoutMs: number) => connectInNetns(node.netnsPath, host, port, { timeoutMs });
    const kubelet = new Kubelet({
      node: node.name,
      hostIP: node.address,
      store: this.store,
      log,
      ...(this.kube ? { confirmDeletion: (pod: Pod) => confirmPodDeletion(this.store as KubeStore, pod) } : {}),
      ...(events ? { recordEvent: (pod: Pod, ev: { type: 'Normal' | 'Warning'; reason: string; message: string }) => events.record(pod, ev) } : {}),
      networker: {
        setUp: async (pod: Pod): Promise<PodNetwork> => {
          // A host-network pod shares its node's namespace and address, without CNI.
          if (pod.spec.hostNetwork) return { netns: node.netns, netnsPath: node.netnsPath, ip: node.address };
          const pn = await createPodNetwork(cni, { namespace: pod.metadata.namespace, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) });
          writePodEtc(pn.netns, pod, pn.ip);
          return { netns: pn.netns, netnsPath: pn.netnsPath, ip: pn.ip };
        },
        tearDown: async (pod: Pod): Promise<void> => {
          if (pod.spec.hostNetwork) return;
          await deletePodNetwork(cni, { namespace: pod.metadata.namespace, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) });
        },
      },
      runtime: {
        start: async (pod, net, nodeName, onStatus) => {
          const rt = new PodRuntime({ dial, logger: log, launcher: netnsLauncher({ mountPointsFile: mountPoints }), baseEnv: { PATH: `${this.binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: '/root' } });
          const ctx = {
            netns: net.netns,
            podName: pod.metadata.name,
            namespace: pod.metadata.namespace,
            ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}),
            podIP: net.ip,
            hostIP: node.address,
            nodeName,
            labels: pod.metadata.labels ?? {},
            annotations: pod.metadata.annotations ?? {},
            logDir: podLogDir(this.l, pod.metadata.namespace, pod.metadata.name),
            // Kubernetes sets the pod's hostname, and so HOSTNAME, to the pod name. Waypoint pods
            // also get the mesh root and this node's credential.
            extraEnv: { HOSTNAME: pod.metadata.name, ...kubeEnv, ...meshCredentialEnv(pod.metadata.labels, nodeName, { caRoot: path.join(this.l.ca, 'root-cert.pem'), credentialsDir: this.credentialsDir }) },
          };
          // Kubernetes mode: the pod's volumes, materialised and bind-mounted in its own mount namespace.
          // A volume that cannot be set up yet (a ConfigMap not published yet) is tried again.
          let volumes: Awaited<ReturnType<typeof startPodVolumes>> | undefined;
          try {
            volumes = this.kube ? await startPodVolumes(pod, ctx, this.l.podDir(pod.metadata.namespace, pod.metadata.name), kubeVolumeApi(this.store as KubeStore), log, hostPath) : undefined;
          } catch (err) {
            throw new PodSetupError('FailedMount', `MountVolume.SetUp failed: ${(err as Error).message}`);
          }
          rt.start(pod.spec, { ...ctx, ...(volumes ? { mounts: volumes.mounts } : {}) }, onStatus);
          return {
            stop: async (grace?: number) => {
              volumes?.stop();
              await rt.stop(grace);
            },
          };
        },
      },
    });
    kubelet.start();
    this.kubelets.push(kubelet);
  }

  private startServiceProxies(): void {
    this.proxies = this.net.nodes.map((n) => new ServiceProxy({ netns: n.netns, clusterCIDR: this.net.clusterPodCIDR, log: this.o.log.child({ node: n.name }) }));
    const sync = async () => {
      const { services, endpoints } = toProxyInput([...this.svcInformer!.items.values()], [...this.epInformer!.items.values()]);
      await Promise.all(this.proxies.map((p) => p.sync(services, endpoints)));
    };
    this.proxyLoop = debounced(sync, 20, (e) => this.o.log.error({ err: e }, 'service proxy sync failed'));
    this.svcInformer = new Informer<Service>(this.store, SERVICE, () => this.proxyLoop!.trigger()).start();
    this.epInformer = new Informer<Endpoints>(this.store, ENDPOINTS, () => this.proxyLoop!.trigger()).start();
  }

  /** Forwards host loopback to a Service VIP port, connecting from node 1's namespace. */
  async forward(spec: ForwardSpec): Promise<PortForward> {
    const [ns, name] = spec.service.split('/') as [string, string];
    const deadline = Date.now() + 30_000;
    let svc: Service | undefined;
    while (!(svc = await this.store.get<Service>({ ...SERVICE, namespace: ns, name }))?.spec?.clusterIP) {
      if (Date.now() > deadline) throw new Error(`service ${spec.service} has no clusterIP`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.forwardTo({ name: spec.name, netns: this.net.nodes[0]!.netns, host: svc.spec.clusterIP!, port: spec.port, ...(spec.hostPort !== undefined ? { hostPort: spec.hostPort } : {}) });
  }

  /** Forwards host loopback to an address inside one of the cluster's namespaces. */
  async forwardTo(t: { name: string; netns: string; host: string; port: number; hostPort?: number }): Promise<PortForward> {
    const pf = await startPortForward({ netns: t.netns, host: t.host, port: t.port, hostPort: t.hostPort ?? 0, log: this.o.log });
    this.forwards.push(pf);
    this.forwardAddrs[t.name] = `${pf.address}:${pf.port}`;
    this.writeInfo();
    return pf;
  }

  /** Writes cluster.json; once `ready` was written it stays so. */
  writeInfo(ready = false): void {
    this.ready ||= ready;
    const info: ClusterInfo & { ready: boolean } = {
      prefix: this.prefix,
      stateDir: this.l.root,
      nodes: this.net?.nodes.map((n) => n.name) ?? [],
      runnerPid: process.pid,
      forwards: this.forwardAddrs,
      createdAt: new Date().toISOString(),
      steps: this.steps,
      ready: this.ready,
    };
    // Atomic: `up --detach` and other commands read it while the runner rewrites it.
    const tmp = `${this.l.cluster}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n');
    renameSync(tmp, this.l.cluster);
  }

  /** Stops everything and removes every namespace, rule, process and (with `purge`) file. */
  async stop(purge: boolean): Promise<void> {
    const log = this.o.log;
    for (const f of this.forwards) await f.close().catch(() => undefined);
    this.proxyLoop?.cancel();
    this.svcInformer?.close();
    this.epInformer?.close();
    this.manager?.close();
    this.binder?.close();
    await Promise.all(this.kubelets.map((k) => k.close()));
    await Promise.all(this.components.map((c) => c.stop()));
    await this.kube?.stop();
    await teardown(this.prefix, { log, stateDir: this.o.stateDir }).catch((e: unknown) => log.error({ err: e }, 'teardown failed'));
    const removed = removeMountPoints(mountPointsFile(this.l));
    if (removed.length) log.info({ removed }, 'removed the mount points pods made on the host');
    await this.store?.close();
    rmSync(this.l.cluster, { force: true });
    rmSync(this.l.pods, { recursive: true, force: true });
    rmSync(this.l.components, { recursive: true, force: true });
    if (purge) rmSync(this.l.root, { recursive: true, force: true });
  }
}

/** A node's CNI directories, as its pods (the CNI chart) know them. */
const CNI_DIRS = ['/etc/cni/net.d', '/opt/cni/bin'];

/** The record of mount points containers made on the host, removed at `down`. */
export function mountPointsFile(l: Layout): string {
  return path.join(l.root, 'host-mount-points');
}

export function podLogDir(l: Layout, namespace: string, name: string): string {
  return path.join(l.podDir(namespace, name), 'logs');
}

/** /etc/netns/<netns>/{resolv.conf,hosts}: `ip netns exec` bind-mounts them over /etc for the pod. */
export function writePodEtc(netns: string, pod: Pod, ip: string): void {
  const dir = path.join('/etc/netns', netns);
  mkdirSync(dir, { recursive: true });
  const ns = pod.metadata.namespace;
  writeFileSync(path.join(dir, 'resolv.conf'), `nameserver ${DNS_VIP}\nsearch ${ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`);
  writeFileSync(path.join(dir, 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${pod.metadata.name}\n`);
}
