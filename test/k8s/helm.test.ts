/**
 * Tier 4: the Helm charts in helm/ with the pinned helm, and installed into a real kube-apiserver
 * (with kube-controller-manager, so Deployments and DaemonSets get real Pods, which stay Pending:
 * there is no kubelet). Checks lint, rendering, values.schema.json, that every flag and variable a
 * chart passes is one the component reads (through the component's own command and config code),
 * CRDs accepting real Istio manifests, RBAC least privilege with `kubectl auth can-i`, upgrade and
 * uninstall.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { controlCommand } from '../../control/main.js';
import { resolveConfig as resolveControl, type ControlFlags } from '../../control/config.js';
import { cniAgentCommand } from '../../cni/main.js';
import { resolveConfig as resolveCni, type CniAgentFlags } from '../../cni/config.js';
import { resolveConfig as resolveZtunnel } from '../../ztunnel/config.js';
import { MODEL_KINDS } from '../../control/xds/model-sync.js';
import { kindInfo, resourceName } from '../../lib/store/kinds.js';
import { binaries, startCluster } from './testkit.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CHARTS = ['ambit-base', 'ambit-control', 'ambit-cni', 'ambit-ztunnel'] as const;
const chart = (name: string): string => join(ROOT, 'helm', name);
const NS = 'ambit-system';
const GATEWAY_API = 'gateway.networking.k8s.io';

const bins = binaries(['helm', 'kubectl']);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(bin: string, args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

// helm keeps its cache, configuration and repositories here, not in the user's home.
const helmHome = mkdtempSync(join(tmpdir(), 'ambit-helm-'));
t.teardown(() => rmSync(helmHome, { recursive: true, force: true }));
const helmEnv = { HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data') };

async function helm(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(bins.helm, args, { ...helmEnv, ...env });
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }>;
}

/** `deployment.apps`, `serviceaccount`: what kubectl needs to name the object's resource exactly. */
function resourceArg(o: Obj): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return group ? `${o.kind}.${group}` : o.kind;
}

function docs(yamlText: string): Obj[] {
  return parseAllDocuments(yamlText).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
}

async function render(name: string, set: string[] = []): Promise<Obj[]> {
  return docs(await helm(['template', name, chart(name), '-n', NS, ...set.flatMap((s) => ['--set', s])]));
}

interface Container {
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; readOnlyRootFilesystem?: boolean; privileged?: boolean; capabilities?: { add?: string[]; drop?: string[] } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  hostNetwork?: boolean;
  hostPID?: boolean;
  priorityClassName?: string;
  volumes?: Array<{ name: string; hostPath?: { path: string }; projected?: { sources: Array<{ serviceAccountToken?: { audience: string; path: string } }> } }>;
}

function podSpec(objs: Obj[], kind: string): PodSpec {
  const w = objs.find((o) => o.kind === kind);
  if (!w) throw new Error(`no ${kind} rendered; kinds: ${objs.map((o) => o.kind).join(', ')}`);
  return (w.spec as { template: { spec: PodSpec } }).template.spec;
}

/** The container's environment with field references resolved as the kubelet would here. */
function envOf(c: Container, fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    out[e.name] = path !== undefined ? (fields[path] ?? `<${path}>`) : (e.value ?? '');
  }
  return out;
}

/** Parses a chart's args with the component's own command: an unknown flag throws. */
async function parseWith<F>(build: () => Command, args: string[]): Promise<F> {
  const cmd = build().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  let flags: F | undefined;
  cmd.action((o: F) => {
    flags = o;
  });
  await cmd.parseAsync(args, { from: 'user' });
  if (!flags) throw new Error(`${args[0]}: the command did not run its action`);
  return flags;
}

const FIELDS = { 'metadata.namespace': NS, 'metadata.name': 'pod-1', 'spec.nodeName': 'node-1', 'status.podIP': '10.244.1.9' };

t.test('helm lint --strict is clean for every chart', async (t) => {
  for (const name of CHARTS) {
    const r = await run(bins.helm, ['lint', '--strict', chart(name)], helmEnv);
    t.equal(r.code, 0, `${name}: helm lint exit code (${r.stdout}${r.stderr})`);
    t.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, name);
    t.notMatch(r.stdout, /\[(WARNING|ERROR)\]/, `${name}: no warnings or errors`);
  }
});

t.test('helm template renders every chart, labelled', async (t) => {
  const expected: Record<(typeof CHARTS)[number], string[]> = {
    'ambit-base': [],
    'ambit-control': ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'],
    'ambit-cni': ['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Role', 'RoleBinding', 'ServiceAccount'],
    'ambit-ztunnel': ['DaemonSet', 'ServiceAccount'],
  };
  for (const name of CHARTS) {
    const objs = await render(name);
    t.same(objs.map((o) => o.kind).sort(), expected[name], `${name} renders ${expected[name].join(', ') || 'no templated objects (CRDs only)'}`);
    for (const o of objs) {
      t.match(o.metadata.labels, { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/managed-by': 'Helm', 'app.kubernetes.io/part-of': 'ambit' }, `${name} ${o.kind} labels`);
    }
  }
  const crds = docs(await helm(['show', 'crds', chart('ambit-base')]));
  t.same(crds.map((c) => c.metadata.name).sort(), [
    'authorizationpolicies.security.istio.io',
    'destinationrules.networking.istio.io',
    'peerauthentications.security.istio.io',
    'ratelimitpolicies.ratelimit.ambit.dev',
    'virtualservices.networking.istio.io',
  ]);
  const images = (await render('ambit-ztunnel', ['image.repository=registry.example/ambit', 'image.tag=1.2.3', 'image.pullPolicy=Always'])).find((o) => o.kind === 'DaemonSet');
  t.match(JSON.stringify(images), /"image":"registry\.example\/ambit:1\.2\.3","imagePullPolicy":"Always"/, 'image repository/tag/pullPolicy values');
});

t.test('values.schema.json rejects wrong values with the field named', async (t) => {
  const bad: Array<[string, string, RegExp]> = [
    ['ambit-control', 'replicaCount=two', /replicaCount.*got string, want integer/],
    ['ambit-control', 'debounce.quiet=5', /debounce\/quiet.*got number, want string/],
    ['ambit-control', 'logLevel=loud', /logLevel.*must be one of/],
    ['ambit-control', 'writeStatus=maybe', /writeStatus.*got string, want boolean/],
    ['ambit-control', 'replicaCuont=2', /additional properties 'replicaCuont' not allowed/],
    ['ambit-cni', 'redirectBackend=ebpf', /redirectBackend.*must be one of/],
    ['ambit-cni', 'zdsAckTimeout=5', /zdsAckTimeout.*got number, want string/],
    ['ambit-cni', 'socketDir=run/ambit', /socketDir.*does not match pattern/],
    ['ambit-ztunnel', 'xdsAddress=istiod', /xdsAddress.*does not match pattern/],
    ['ambit-ztunnel', 'hostPID=yes', /hostPID.*got string, want boolean/],
    ['ambit-base', 'crds=false', /additional properties 'crds' not allowed/],
  ];
  for (const [name, set, message] of bad) {
    const r = await run(bins.helm, ['template', name, chart(name), '--set', set], helmEnv);
    t.not(r.code, 0, `${name} --set ${set} is refused`);
    t.match(r.stderr, message, `${name} --set ${set}: ${r.stderr.trim().split('\n').slice(-2).join(' ')}`);
  }
});

t.test('the control plane chart passes only flags `ambit control` has, mapped to its Config', async (t) => {
  const objs = await render('ambit-control', [
    'trustDomain=mesh.example', 'clusterId=c1', 'network=net1', 'rootNamespace=mesh-root', 'domainSuffix=corp.local',
    'debounce.quiet=100ms', 'debounce.max=2s', 'certificates.defaultTtl=12h', 'certificates.maxTtl=30d',
    'maxConcurrentSyncs=3', 'writeStatus=false', 'logLevel=debug',
  ]);
  const spec = podSpec(objs, 'Deployment');
  const c = spec.containers[0]!;
  t.equal(c.args?.[0], 'control');
  const o = await parseWith<ControlFlags & { status: boolean }>(() => controlCommand({ out: () => undefined, err: () => undefined }), c.args!.slice(1));
  const flags: ControlFlags = { ...o };
  if (o.status) delete flags.status;
  const config = resolveControl(flags, envOf(c, FIELDS));
  t.match(config, {
    trustDomain: 'mesh.example', clusterId: 'c1', network: 'net1', rootNamespace: 'mesh-root', namespace: NS, domainSuffix: 'corp.local',
    debounce: { quietMs: 100, maxMs: 2000 }, defaultCertTtlSeconds: 12 * 3600, maxCertTtlSeconds: 30 * 86400, maxConcurrentSyncs: 3,
    writeStatus: false, logLevel: 'debug', controlPlaneId: 'pod-1', caDir: '/var/lib/ambit/ca',
    grpc: { port: 15012 }, monitoring: { port: 15014 }, readiness: { port: 15021 },
    waypointOtlpEndpoint: `http://ambit-control.${NS}.svc:15014/v1/traces`,
  });
  const defaults = resolveControl(await parseWith<ControlFlags>(() => controlCommand(), podSpec(await render('ambit-control'), 'Deployment').containers[0]!.args!.slice(1)), envOf(c, FIELDS));
  t.match(defaults, { rootNamespace: NS, writeStatus: true, network: '' }, 'defaults: the release namespace is the root namespace');
  t.match(c.readinessProbe, { httpGet: { path: '/healthz/ready', port: 'http-ready' } });
  t.match(spec.securityContext, { runAsNonRoot: true, runAsUser: 1337 });
  t.match(c.securityContext, { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  t.notOk(c.securityContext?.capabilities?.add, 'no capabilities added');
  const svc = objs.find((x) => x.kind === 'Service')!;
  t.equal(svc.metadata.name, 'ambit-control', 'the name its serving certificate carries');
  t.same((svc.spec as { ports: Array<{ port: number }> }).ports.map((p) => p.port), [15012, 15014, 15021]);
});

t.test('the CNI chart passes only flags `ambit cni-agent` has, mapped to its Config', async (t) => {
  const objs = await render('ambit-cni', ['excludeNamespaces={kube-system,legacy}', 'dnsCapture=true', 'redirectBackend=nft', 'probeBackend=nft', 'probeIpv6=true', 'zdsAckTimeout=2s', 'metricsPort=15114', 'logLevel=warn']);
  const spec = podSpec(objs, 'DaemonSet');
  const c = spec.containers[0]!;
  t.equal(c.args?.[0], 'cni-agent');
  const o = await parseWith<CniAgentFlags>(() => cniAgentCommand({ err: () => undefined }), c.args!.slice(1));
  const flags: CniAgentFlags = { ...o };
  if (o.dnsCapture === true) delete flags.dnsCapture;
  const config = resolveCni(flags, envOf(c, FIELDS));
  t.match(config, {
    node: 'node-1', cniSocket: '/var/run/ambit/cni.sock', zdsSocket: '/var/run/ambit/ztunnel.sock', metrics: { port: 15114 },
    excludeNamespaces: ['kube-system', 'legacy', NS], pod: { namespace: NS, name: 'pod-1' }, dnsCapture: true, redirectBackend: 'nft', probeBackend: 'nft', probeIpv6: true, zdsAckTimeoutMs: 2000, logLevel: 'warn',
  });
  // The plugin is installed and chained where the node's CNI directories are mounted.
  const mountOf = (hostPath: string) => {
    const vol = spec.volumes?.find((v) => v.hostPath?.path === hostPath);
    return c.volumeMounts?.find((m) => m.name === vol?.name)?.mountPath;
  };
  t.equal(config.cniBinDir, mountOf('/opt/cni/bin'), '--cni-bin-dir is where the node\'s /opt/cni/bin is mounted');
  t.equal(config.cniConfDir, mountOf('/etc/cni/net.d'), '--cni-conf-dir is where the node\'s /etc/cni/net.d is mounted');
  t.ok(config.cniBinDir && config.cniConfDir, 'both are set');
  t.equal(spec.hostNetwork, true, 'the probe SNAT is in the node network namespace');
  t.notOk(spec.hostPID, 'no host PID namespace unless hostPID=true');
  t.equal(spec.priorityClassName, 'system-node-critical');
  t.same(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN'] });
  t.match(c.securityContext, { runAsUser: 0, privileged: false, readOnlyRootFilesystem: true });
  t.same(spec.volumes?.filter((v) => v.hostPath).map((v) => v.hostPath!.path).sort(), ['/etc/cni/net.d', '/opt/cni/bin', '/run/xtables.lock', '/var/run/ambit', '/var/run/netns']);
  const defaults = podSpec(await render('ambit-cni'), 'DaemonSet').containers[0]!;
  t.ok(defaults.args?.includes('--no-dns-capture'), 'by default DNS is not captured: ztunnel has no DNS proxy to answer it');
  const withPid = podSpec(await render('ambit-cni', ['hostPID=true']), 'DaemonSet');
  t.equal(withPid.hostPID, true);
  t.same(withPid.containers[0]!.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE'], 'SYS_PTRACE only with hostPID');
});

t.test('the ztunnel chart sets only variables `ambit ztunnel` reads, mapped to its Config', async (t) => {
  const objs = await render('ambit-ztunnel', ['trustDomain=mesh.example', 'clusterId=c1', 'network=net1', 'certTtl=6h', 'drain=20s', 'connectTimeout=3s', 'logLevel=debug', 'caAddress=ca.example:15012']);
  const spec = podSpec(objs, 'DaemonSet');
  const c = spec.containers[0]!;
  t.same(c.args, ['ztunnel']);
  const env = envOf(c, FIELDS);
  const config = resolveZtunnel({}, env);
  t.match(config, {
    nodeName: 'node-1', podName: 'pod-1', podNamespace: NS, instanceIp: '10.244.1.9',
    xdsAddress: `ambit-control.${NS}.svc:15012`, caAddress: 'ca.example:15012', caRootPath: '/var/run/secrets/istio/root-cert.pem',
    credentialPath: '/var/run/secrets/tokens/istio-token', zdsSocket: '/var/run/ambit/ztunnel.sock',
    trustDomain: 'mesh.example', clusterId: 'c1', network: 'net1', certTtlSeconds: 6 * 3600, drainMs: 20_000, connectTimeoutMs: 3000, logLevel: 'debug',
    otlpEndpoint: `http://ambit-control.${NS}.svc:15014/v1/traces`, traceSamplingPercent: 100,
  });
  t.equal(resolveZtunnel({}, envOf(podSpec(await render('ambit-ztunnel', ['otlpEndpoint=off']), 'DaemonSet').containers[0]!, FIELDS)).otlpEndpoint, undefined, 'otlpEndpoint=off: no tracing');
  // Every variable the chart sets is read: another value for it changes what resolves.
  const other = (v: string): string =>
    v.startsWith('http://') ? 'http://collector.example:4318/v1/traces' : /^\d+$/.test(v) ? '7' : /^\d+(ms|s|m|h)$/.test(v) ? '7s' : /:\d+$/.test(v) ? 'other.example:1' : v.startsWith('/') ? '/other/path' : v === 'debug' ? 'error' : `other-${v}`;
  for (const [name, value] of Object.entries(env)) {
    t.not(JSON.stringify(resolveZtunnel({}, { ...env, [name]: other(value) })), JSON.stringify(config), `${name} is read by ztunnel`);
  }
  t.notOk(spec.hostNetwork, 'not on the host network');
  t.equal(spec.priorityClassName, 'system-node-critical');
  t.same(c.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] });
  t.match(c.readinessProbe, { httpGet: { path: '/healthz/ready', port: 'http-ready' } });
  const token = spec.volumes?.flatMap((v) => v.projected?.sources ?? []).find((s) => s.serviceAccountToken)?.serviceAccountToken;
  t.same(token, { audience: 'ambit-control', expirationSeconds: 43200, path: 'istio-token' }, 'a projected token for the control plane');
});

t.test('on a real apiserver', async (t) => {
  const cluster = await startCluster(t);
  t.comment(`cluster up: etcd ${cluster.times.etcd} ms, apiserver ${cluster.times.apiserver} ms, controller-manager ${cluster.times.controllerManager} ms`);
  const kube = { KUBECONFIG: cluster.kubeconfig };
  const kubectl = (args: string[], input?: string): Promise<string> => cluster.kubectl(args, input);
  const canI = async (sa: string, args: string[]): Promise<boolean> => {
    const r = await run(bins.kubectl, [`--kubeconfig=${cluster.kubeconfig}`, 'auth', 'can-i', '--as', `system:serviceaccount:${NS}:${sa}`, ...args]);
    if (r.stdout.trim() !== 'yes' && r.stdout.trim() !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() === 'yes';
  };
  // Gateway API CRDs are the user's and not installed here, so kubectl cannot resolve their
  // resources; the same question as a SubjectAccessReview names group and resource directly.
  const reviewAccess = async (sa: string, attrs: { verb: string; group: string; resource: string; subresource?: string; namespace?: string }): Promise<boolean> => {
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: `system:serviceaccount:${NS}:${sa}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'], resourceAttributes: attrs } };
    return (JSON.parse(await kubectl(['create', '-f', '-', '-o', 'json'], JSON.stringify(review))) as { status: { allowed: boolean } }).status.allowed;
  };
  // A Node without a kubelet: the DaemonSet controller creates real Pods for it, which stay Pending.
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': 'node-1' } } }));

  const installed: Record<string, number> = {};
  await t.test('helm install: base, then control, cni and ztunnel into ambit-system', async (t) => {
    for (const name of CHARTS) {
      const t0 = performance.now();
      await helm(['install', name, chart(name), '-n', NS, '--create-namespace'], kube);
      installed[name] = Math.round(performance.now() - t0);
    }
    t.comment(`install times (ms): ${JSON.stringify(installed)}`);
    const list = JSON.parse(await helm(['list', '-n', NS, '-o', 'json'], kube)) as Array<{ name: string; status: string; revision: string }>;
    t.same(list.map((r) => [r.name, r.status]).sort(), CHARTS.map((c) => [c, 'deployed']).sort());
    // Every object of every release exists as rendered: the apiserver accepted it.
    for (const name of CHARTS.slice(1)) {
      for (const o of docs(await helm(['get', 'manifest', name, '-n', NS], kube))) {
        const got = JSON.parse(await kubectl(['get', resourceArg(o), o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), '-o', 'json'])) as Obj;
        t.equal(got.metadata.labels?.['app.kubernetes.io/instance'], name, `${name}: ${o.kind} ${o.metadata.name} stored`);
      }
    }
  });

  await t.test('the CRDs are established', async (t) => {
    await kubectl(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '-l', 'app.kubernetes.io/part-of=ambit']);
    const crds = JSON.parse(await kubectl(['get', 'crd', '-l', 'app.kubernetes.io/part-of=ambit', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { versions: Array<{ name: string; served: boolean }> }; status: { conditions: Array<{ type: string; status: string }> } }> };
    t.equal(crds.items.length, 5);
    for (const c of crds.items) {
      t.ok(c.status.conditions.some((x) => x.type === 'Established' && x.status === 'True'), `${c.metadata.name} Established`);
      t.ok(c.status.conditions.some((x) => x.type === 'NamesAccepted' && x.status === 'True'), `${c.metadata.name} NamesAccepted`);
    }
    // Every group/version Ambit's registry accepts for these kinds is served.
    for (const ref of [MODEL_KINDS.authorizationPolicies, MODEL_KINDS.peerAuthentications, MODEL_KINDS.virtualServices, MODEL_KINDS.destinationRules, MODEL_KINDS.rateLimitPolicies]) {
      const info = kindInfo(ref);
      const crd = crds.items.find((c) => c.metadata.name === `${info.plural}.${info.group}`);
      t.same(crd?.spec.versions.filter((v) => v.served).map((v) => v.name).sort(), [...info.versions].sort(), `${resourceName(info)} serves ${info.versions.join(', ')}`);
    }
  });

  await t.test('the workloads: real Pods from the controllers, Pending without a kubelet', async (t) => {
    const pods = async (): Promise<Array<{ metadata: { name: string; labels: Record<string, string> }; spec: { nodeName?: string }; status: { phase: string } }>> =>
      (JSON.parse(await kubectl(['get', 'pods', '-n', NS, '-o', 'json'])) as { items: [] }).items;
    const deadline = Date.now() + 30_000;
    let got = await pods();
    while (got.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      got = await pods();
    }
    const by = (n: string) => got.filter((p) => p.metadata.labels['app.kubernetes.io/name'] === n);
    t.equal(by('ambit-control').length, 1, 'the ReplicaSet created the control plane Pod');
    t.equal(by('ambit-cni').length, 1, 'the DaemonSet created the node agent Pod for node-1');
    t.equal(by('ambit-ztunnel').length, 1, 'the DaemonSet created the ztunnel Pod for node-1');
    for (const p of got) t.equal(p.status.phase, 'Pending', `${p.metadata.name} is Pending (no kubelet)`);
  });

  await t.test('the CRDs accept real Istio manifests and RateLimitPolicies, and refuse malformed ones', async (t) => {
    await kubectl(['create', 'namespace', 'bookinfo']);
    const istio = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-viewer, namespace: bookinfo}
spec:
  selector: {matchLabels: {app: productpage}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/bookinfo/sa/bookinfo-gateway"], notNamespaces: ["untrusted"]}
    to:
    - operation: {methods: ["GET"], paths: ["/productpage*"], ports: ["9080"]}
    when:
    - {key: "request.headers[version]", values: ["v1", "v2"]}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny-waypoint, namespace: bookinfo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
  action: DENY
  rules: [{to: [{operation: {methods: ["DELETE"]}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: bookinfo}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    fault: {delay: {percentage: {value: 100.0}, fixedDelay: 7s}}
    route: [{destination: {host: reviews, subset: v2}}]
  - route:
    - {destination: {host: reviews, subset: v1, port: {number: 9080}}, weight: 75}
    - {destination: {host: reviews, subset: v3}, weight: 25}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure"}
    timeout: 10s
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: ratings, namespace: bookinfo}
spec:
  hosts: [ratings]
  tcp: [{match: [{port: 27017}], route: [{destination: {host: mongo, port: {number: 5555}}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: bookinfo}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1}}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: ratelimit.ambit.dev/v1alpha1
kind: RateLimitPolicy
metadata: {name: reviews, namespace: bookinfo}
spec:
  targetRefs: [{group: "", kind: Service, name: reviews}]
  local: {tokens: 100, tokensPerFill: 10, fillInterval: 1s}
  global:
    redis: {address: "redis.ambit-system:6379"}
    failureMode: Closed
    timeout: 100ms
    limits:
    - requests: 1000
      unit: Minute
      descriptors: [{header: {name: x-user}}, {sourceIdentity: {}}, {path: {value: /login}}]
`;
    const out = await kubectl(['apply', '-f', '-'], istio);
    t.equal(out.trim().split('\n').filter((l) => / created$/.test(l)).length, 7, out);
    const vs = JSON.parse(await kubectl(['get', 'virtualservices.networking.istio.io', 'reviews', '-n', 'bookinfo', '-o', 'json'])) as { spec: { http: Array<Record<string, unknown>> } };
    t.match(vs.spec.http[1], { retries: { attempts: 3, perTryTimeout: '2s', retryOn: '5xx,connect-failure' }, timeout: '10s' }, 'fields outside the typed part are kept');
    t.match(vs.spec.http[0], { fault: { delay: { fixedDelay: '7s' } } });
    const dr = JSON.parse(await kubectl(['get', 'destinationrules.networking.istio.io', 'reviews', '-n', 'bookinfo', '-o', 'json'])) as { spec: Record<string, unknown> };
    t.match(dr.spec, { trafficPolicy: { outlierDetection: { consecutive5xxErrors: 7 } }, subsets: [{ name: 'v1' }, { name: 'v2', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }, { name: 'v3' }] });
    // The same object under another served version.
    const apOld = JSON.parse(await kubectl(['get', 'authorizationpolicies.v1beta1.security.istio.io', 'productpage-viewer', '-n', 'bookinfo', '-o', 'json'])) as { apiVersion: string; spec: { action: string } };
    t.match(apOld, { apiVersion: 'security.istio.io/v1beta1', spec: { action: 'ALLOW' } });
    // Status goes through the status subresource, as the control plane writes it.
    await kubectl(['patch', 'ratelimitpolicies.ratelimit.ambit.dev', 'reviews', '-n', 'bookinfo', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'enforced by waypoint waypoint', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }] } })]);
    t.match(await kubectl(['get', 'rlp', 'reviews', '-n', 'bookinfo']), /reviews\s+True\s/, 'the Accepted column');

    const refused: Array<[string, Record<string, unknown>, RegExp]> = [
      ['ap-bad-action', { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', spec: { action: 'PERMIT' } }, /spec\.action: Unsupported value: "PERMIT"/],
      ['pa-bad-mode', { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', spec: { mtls: { mode: 'STRICTEST' } } }, /spec\.mtls\.mode: Unsupported value/],
      ['dr-no-host', { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', spec: { subsets: [{ name: 'v1' }] } }, /spec\.host: Required value/],
      ['vs-weight', { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', spec: { hosts: ['a'], http: [{ route: [{ destination: { host: 'a' }, weight: 'half' }] }] } }, /spec\.http\[0\]\.route\[0\]\.weight: Invalid value: "string"/],
      ['rlp-no-target', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { local: { tokens: 1, fillInterval: '1s' } } }, /at least one target/],
      ['rlp-empty', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }] } }, /set spec\.local, spec\.global or both/],
      ['rlp-bare-number', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }], local: { tokens: 1, fillInterval: '5' } } }, /spec\.local\.fillInterval: Invalid value: "5"/],
      ['rlp-no-fill', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }], local: { tokens: 1 } } }, /spec\.local\.fillInterval: Required value/],
      ['rlp-unit', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }], global: { limits: [{ requests: 1, unit: 'Week' }] } } }, /spec\.global\.limits\[0\]\.unit: Unsupported value: "Week"/],
      ['rlp-two-keys', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }], global: { limits: [{ requests: 1, unit: 'Second', descriptors: [{ header: { name: 'x' }, path: {} }] }] } } }, /spec\.global\.limits\[0\]\.descriptors\[0\]: Invalid value: set exactly one of header, sourceIdentity or path/],
      ['rlp-no-key', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Service', name: 'a' }], global: { limits: [{ requests: 1, unit: 'Second', descriptors: [{}] }] } } }, /descriptors\[0\]: Invalid value: set exactly one of header, sourceIdentity or path/],
      ['rlp-kind', { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy', spec: { targetRefs: [{ kind: 'Pod', name: 'a' }], local: { tokens: 1, fillInterval: '1s' } } }, /targetRefs\[0\]\.kind: Unsupported value: "Pod"/],
    ];
    for (const [name, body, message] of refused) {
      const r = await run(bins.kubectl, [`--kubeconfig=${cluster.kubeconfig}`, 'create', '-f', '-'], {}, JSON.stringify({ ...body, metadata: { name, namespace: 'bookinfo' } }));
      t.not(r.code, 0, `${name} is refused`);
      t.match(r.stderr, message, `${name}: ${r.stderr.trim()}`);
    }
  });

  await t.test('RBAC: each service account may do what its component does, and nothing else', async (t) => {
    const yes = async (sa: string, args: string[]): Promise<void> => void t.ok(await canI(sa, args), `${sa} may ${args.join(' ')}`);
    const no = async (sa: string, args: string[]): Promise<void> => void t.notOk(await canI(sa, args), `${sa} may not ${args.join(' ')}`);
    const ctl = 'ambit-control';
    // Every kind the model watches, listed and watched cluster-wide.
    for (const ref of Object.values(MODEL_KINDS)) {
      const info = kindInfo(ref);
      for (const verb of ['list', 'watch']) {
        if (info.group === GATEWAY_API) t.ok(await reviewAccess(ctl, { verb, group: info.group, resource: info.plural }), `${ctl} may ${verb} ${resourceName(info)} (SubjectAccessReview)`);
        else await yes(ctl, [verb, resourceName(info), '-A']);
      }
    }
    for (const r of ['authorizationpolicies.security.istio.io', 'peerauthentications.security.istio.io', 'virtualservices.networking.istio.io', 'destinationrules.networking.istio.io', 'ratelimitpolicies.ratelimit.ambit.dev', 'services']) {
      await yes(ctl, ['patch', r, '--subresource=status', '-n', 'bookinfo']);
    }
    for (const resource of ['gateways', 'httproutes', 'grpcroutes']) {
      t.ok(await reviewAccess(ctl, { verb: 'patch', group: GATEWAY_API, resource, subresource: 'status', namespace: 'bookinfo' }), `${ctl} may patch ${resource}/status (SubjectAccessReview)`);
      t.notOk(await reviewAccess(ctl, { verb: 'patch', group: GATEWAY_API, resource, namespace: 'bookinfo' }), `${ctl} may not patch ${resource} themselves (SubjectAccessReview)`);
    }
    t.notOk(await reviewAccess(ctl, { verb: 'create', group: GATEWAY_API, resource: 'gateways', namespace: 'bookinfo' }), `${ctl} may not create gateways (SubjectAccessReview)`);
    await no(ctl, ['patch', 'authorizationpolicies.security.istio.io', '-n', 'bookinfo']);
    await no(ctl, ['delete', 'authorizationpolicies.security.istio.io', '-n', 'bookinfo']);
    await no(ctl, ['patch', 'pods', '--subresource=status', '-n', 'bookinfo']);
    for (const r of ['deployments.apps', 'services', 'serviceaccounts']) for (const v of ['create', 'patch', 'delete']) await yes(ctl, [v, r, '-n', 'bookinfo']);
    await yes(ctl, ['create', 'tokenreviews.authentication.k8s.io']);
    await yes(ctl, ['patch', 'configmaps/istio-ca-root-cert', '-n', 'bookinfo']);
    await yes(ctl, ['create', 'configmaps', '-n', 'bookinfo']);
    await no(ctl, ['patch', 'configmaps/other', '-n', 'bookinfo']);
    await no(ctl, ['delete', 'configmaps/istio-ca-root-cert', '-n', 'bookinfo']);
    for (const v of ['get', 'create', 'patch']) await yes(ctl, [v, 'leases.coordination.k8s.io', '-n', NS]);
    await no(ctl, ['delete', 'leases.coordination.k8s.io', '-n', NS]);
    await no(ctl, ['create', 'leases.coordination.k8s.io', '-n', 'bookinfo']);
    await yes(ctl, ['get', 'secrets/istio-ca-secret', '-n', NS]);
    await yes(ctl, ['create', 'secrets', '-n', NS]);
    await no(ctl, ['get', 'secrets/istio-ca-secret', '-n', 'bookinfo']);
    await no(ctl, ['get', 'secrets/other', '-n', NS]);
    await no(ctl, ['update', 'secrets/istio-ca-secret', '-n', NS]);
    await no(ctl, ['delete', 'secrets/istio-ca-secret', '-n', NS]);
    await no(ctl, ['get', 'secrets', '-n', NS]);
    await yes(ctl, ['get', 'pods', '-n', 'bookinfo']);
    await no(ctl, ['list', 'secrets', '-A']);
    await no(ctl, ['delete', 'namespaces']);
    await no(ctl, ['delete', 'pods', '-n', 'bookinfo']);
    await no(ctl, ['create', 'clusterroles.rbac.authorization.k8s.io']);
    await no(ctl, ['create', 'serviceaccounts', '--subresource=token', '-n', 'bookinfo']);

    const cni = 'ambit-cni-node';
    for (const v of ['get', 'list', 'watch']) {
      await yes(cni, [v, 'pods', '-A']);
      await yes(cni, [v, 'namespaces']);
    }
    await yes(cni, ['patch', 'pods', '-n', 'bookinfo']);
    await no(cni, ['delete', 'pods', '-n', 'bookinfo']);
    await no(cni, ['patch', 'namespaces']);
    await no(cni, ['get', 'secrets', '-n', NS]);
    await no(cni, ['list', 'services', '-A']);
    await no(cni, ['create', 'tokenreviews.authentication.k8s.io']);
    await yes(cni, ['get', 'daemonsets.apps/ambit-cni-node', '-n', NS]);
    await no(cni, ['get', 'daemonsets.apps/ztunnel', '-n', NS]);
    await no(cni, ['list', 'daemonsets.apps', '-A']);
    await no(cni, ['delete', 'daemonsets.apps', '-n', NS]);

    // ztunnel talks only to the control plane.
    const zt = 'ztunnel';
    await no(zt, ['list', 'pods', '-A']);
    await no(zt, ['get', 'secrets', '-n', NS]);
    await no(zt, ['get', 'configmaps', '-n', NS]);
    await no(zt, ['delete', 'namespaces']);
  });

  await t.test('helm upgrade with a changed value rolls the new setting out', async (t) => {
    const before = JSON.parse(await kubectl(['get', 'deployment', 'ambit-control', '-n', NS, '-o', 'json'])) as { metadata: { generation: number }; spec: { template: { spec: PodSpec } } };
    t.ok(before.spec.template.spec.containers[0]!.args!.includes('--log-level=info'));
    await helm(['upgrade', 'ambit-control', chart('ambit-control'), '-n', NS, '--reuse-values', '--set', 'logLevel=debug', '--set', 'writeStatus=false'], kube);
    const after = JSON.parse(await kubectl(['get', 'deployment', 'ambit-control', '-n', NS, '-o', 'json'])) as typeof before;
    const args = after.spec.template.spec.containers[0]!.args!;
    t.ok(args.includes('--log-level=debug') && args.includes('--no-status'), `upgraded args: ${args.join(' ')}`);
    t.ok(after.metadata.generation > before.metadata.generation, 'a new Deployment generation');
    const list = JSON.parse(await helm(['list', '-n', NS, '-o', 'json'], kube)) as Array<{ name: string; revision: string; status: string }>;
    t.match(list.find((r) => r.name === 'ambit-control'), { revision: '2', status: 'deployed' });
    await helm(['upgrade', 'ambit-ztunnel', chart('ambit-ztunnel'), '-n', NS, '--reuse-values', '--set', 'drain=15s'], kube);
    const ds = JSON.parse(await kubectl(['get', 'daemonset', 'ztunnel', '-n', NS, '-o', 'json'])) as { spec: { template: { spec: PodSpec } } };
    t.ok(ds.spec.template.spec.containers[0]!.env!.some((e) => e.name === 'CONNECTION_TERMINATION_DEADLINE' && e.value === '15s'), 'drain=15s rolled out');
    const bad = await run(bins.helm, ['upgrade', 'ambit-ztunnel', chart('ambit-ztunnel'), '-n', NS, '--reuse-values', '--set', 'drain=15'], { ...helmEnv, ...kube });
    t.not(bad.code, 0, 'an upgrade with a bad value is refused');
    t.match(bad.stderr, /drain.*got number, want string/);
  });

  await t.test('helm uninstall removes everything but the CRDs and the policies', async (t) => {
    const manifests = new Map<string, Obj[]>();
    for (const name of CHARTS) manifests.set(name, docs(await helm(['get', 'manifest', name, '-n', NS], kube)));
    for (const name of [...CHARTS].reverse()) await helm(['uninstall', name, '-n', NS, '--wait'], kube);
    t.same(JSON.parse(await helm(['list', '-n', NS, '-o', 'json'], kube)), [], 'no releases left');
    for (const [name, objs] of manifests) {
      for (const o of objs) {
        const r = await run(bins.kubectl, [`--kubeconfig=${cluster.kubeconfig}`, 'get', resourceArg(o), o.metadata.name, ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : []), '--ignore-not-found', '-o', 'name']);
        t.equal(r.stdout.trim(), '', `${name}: ${o.kind} ${o.metadata.name} removed`);
      }
    }
    const crds = (await kubectl(['get', 'crd', '-l', 'app.kubernetes.io/part-of=ambit', '-o', 'name'])).trim().split('\n');
    t.equal(crds.length, 5, 'the CRDs stay (Helm never deletes crds/)');
    t.match(await kubectl(['get', 'authorizationpolicies.security.istio.io,rlp', '-n', 'bookinfo', '-o', 'name']), /productpage-viewer[\s\S]*ratelimitpolicy.ratelimit.ambit.dev\/reviews/, 'and so do the policies');
    // Pods the controllers made go with their owners (garbage collection).
    const deadline = Date.now() + 30_000;
    let pods = '';
    do {
      pods = (await kubectl(['get', 'pods', '-n', NS, '-o', 'name'])).trim();
      if (pods !== '') await new Promise((r) => setTimeout(r, 250));
    } while (pods !== '' && Date.now() < deadline);
    t.equal(pods, '', 'the Pending pods are garbage-collected');
  });
});
