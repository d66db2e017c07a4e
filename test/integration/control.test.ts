// The control plane over real gRPC + TLS on loopback, fed by a File store in a temp dir: what
// xDS clients receive, one delta per change, NACKs, reconnects, several clients, authentication,
// status write-back, the published root, metrics and debug endpoints.
import { readFileSync } from 'node:fs';
import { encodeSpans } from '../../lib/telemetry/otlp.js';
import t from 'tap';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { TYPE_ADDRESS } from '../../lib/xds/types.js';
import { httpGet, startCluster, TestClient, waitFor, type Cluster, type Response } from './testkit/control.js';
import { promtoolCheck } from './testkit/promtool.js';

const NS = 'demo';
const uid = (name: string): string => `Kubernetes//Pod/${NS}/${name}`;
const SVC = `${NS}/web.${NS}.svc.cluster.local`;

function pod(name: string, ip: string, labels: Record<string, string> = { app: 'web' }, node = 'node-1'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels, annotations: { 'ambient.istio.io/redirection': 'enabled' } },
    spec: { nodeName: node, serviceAccountName: 'web', containers: [{ name: 'app', image: 'echo', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function populate(store: ClusterStore): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  await store.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: NS }, spec: { selector: { app: 'web' }, clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
  await store.apply(pod('web-1', '10.244.1.11'));
  await store.apply(pod('web-2', '10.244.1.12'));
  await store.apply({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-demo', namespace: NS }, spec: { rules: [{ from: [{ source: { namespaces: [NS] } }] }] } });
  await store.apply({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'l7-only', namespace: NS },
    spec: { selector: { matchLabels: { app: 'web' } }, rules: [{ to: [{ operation: { methods: ['GET'], ports: ['8080'] } }] }] },
  });
}

let cluster: Cluster;
let token: string;

t.before(async () => {
  cluster = await startCluster(t, 'ctl', populate);
  token = cluster.plane.issueNodeCredential('node-1');
});

const newClient = (nodeId: string, tok: string = token): TestClient => new TestClient(t, cluster.plane.addresses.grpc, cluster.plane.rootCertPem, tok, nodeId);

const MARKER = uid('settle-marker');
let settles = 0;
const revision = (c: TestClient, name: string): string | undefined => {
  const a = c.addresses.get(name);
  return a?.type.case === 'workload' ? a.type.value.canonicalRevision : undefined;
};
/** What a client receives for a settle: the marker workload alone. */
const MARKED: Response = { upserts: [MARKER], removals: [] };

/**
 * Proves the control plane went quiet, so that "exactly one response" is meaningful: once its
 * queued writes are done, a marker change goes through the whole pipeline (store, informer,
 * debounced commit, push) behind whatever came before it. When the marker is at the client
 * (or, without one, in the model), anything the earlier changes caused arrived before it or
 * with it, where the caller's exact comparison sees it: the client's responses end in MARKED.
 */
async function settle(c?: TestClient): Promise<void> {
  await cluster.plane.settled();
  const version = `m${++settles}`;
  await cluster.store.apply(pod('settle-marker', '10.244.1.250', { app: 'settle-marker', version }));
  if (c) {
    await waitFor(() => revision(c, MARKER) === version, `the settle marker ${version} at the client`);
  } else {
    await waitFor(async () => {
      const model = JSON.parse((await httpGet(cluster.plane.addresses.monitoring, `/debug/model?namespace=${NS}`)).body) as { workloads: Array<{ uid: string; canonicalRevision?: string }> };
      return model.workloads.some((w) => w.uid === MARKER && w.canonicalRevision === version);
    }, `the settle marker ${version} in the model`);
  }
  await cluster.plane.settled();
}

t.test('a client subscribes and receives the model', async (t) => {
  const c = newClient('ztunnel-node-1');
  await c.client.synced;
  t.same(c.names(), [uid('web-1'), uid('web-2'), SVC].sort(), 'workloads for the pods and the service');
  const w = c.addresses.get(uid('web-1'));
  t.equal(w?.type.case === 'workload' && w.type.value.tunnelProtocol, 1, 'enrolled pod: HBONE');
  t.equal(w?.type.case === 'workload' && w.type.value.services[SVC]?.ports[0]?.targetPort, 8080, 'named target port resolved');
  t.same([...c.authorizations.entries()].map(([n]) => n).sort(), [`${NS}/allow-demo`, `${NS}/l7-only`]);
  t.equal(c.addressResponses.length, 1, 'the whole model in one response');

  const conns = JSON.parse((await httpGet(cluster.plane.addresses.monitoring, '/debug/connections')).body) as Array<{ nodeId: string; caller: string }>;
  t.ok(conns.some((x) => x.nodeId === 'ztunnel~10.0.0.1~ztunnel-node-1.istio-system~istio-system.svc.cluster.local' && x.caller === 'node/node-1'), '/debug/connections names node and caller');
  await waitFor(() => cluster.log.find('xDS client authenticated').some((l) => l.node === 'ztunnel~10.0.0.1~ztunnel-node-1.istio-system~istio-system.svc.cluster.local'), 'the authentication log line with the node id');
});

t.test('a pod added, relabelled, deleted reaches the client as one delta each', async (t) => {
  const c = newClient('ztunnel-deltas');
  await c.client.synced;
  await settle(c);
  const steps: Array<[string, () => Promise<unknown>, () => boolean, { upserts: string[]; removals: string[] }]> = [
    ['added', () => cluster.store.apply(pod('web-3', '10.244.1.13')), () => c.addresses.has(uid('web-3')), { upserts: [uid('web-3')], removals: [] }],
    [
      'relabelled',
      () => cluster.store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-3' }, { metadata: { labels: { app: 'web', version: 'v2' } } }),
      () => { const a = c.addresses.get(uid('web-3')); return a?.type.case === 'workload' && a.type.value.canonicalRevision === 'v2'; },
      { upserts: [uid('web-3')], removals: [] },
    ],
    ['deleted', () => cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-3' }), () => !c.addresses.has(uid('web-3')), { upserts: [], removals: [uid('web-3')] }],
  ];
  for (const [what, change, arrived, expected] of steps) {
    const before = c.addressResponses.length;
    await change();
    await waitFor(arrived, `the ${what} pod at the client`);
    await settle(c);
    t.same(c.addressResponses.slice(before), [expected, MARKED], `${what}: exactly one response, with only that workload`);
  }
});

t.test('a NACK keeps the last good state; the server logs it', async (t) => {
  const c = newClient('ztunnel-nack');
  await c.client.synced;
  const good = c.names();
  c.rejectAddress = (name) => name === uid('poison');
  const nacks: string[] = [];
  c.client.on('nack', (_type, _nonce, msg) => nacks.push(msg));
  await cluster.store.apply(pod('poison', '10.244.1.66'));
  await waitFor(() => nacks.length > 0, 'the client to NACK');
  t.same(c.names(), good, 'the rejected response changed nothing');
  await waitFor(() => cluster.log.find('xDS client rejected a response (NACK)').some((l) => (l.resources as string[]).includes(uid('poison'))), 'the NACK in the server log, naming the resource');
  type TypeRow = { typeUrl: string; state: string; sentVersion?: string; ackedVersion?: string; nackedVersion?: string; acks: number; nacks: number; lastNack?: string };
  const addressType = async (): Promise<TypeRow | undefined> => {
    const conns = JSON.parse((await httpGet(cluster.plane.addresses.monitoring, '/debug/connections')).body) as Array<{ nodeId: string; types: TypeRow[] }>;
    return conns.find((x) => x.nodeId.split('~')[2] === 'ztunnel-nack.istio-system')?.types.find((ty) => ty.typeUrl === TYPE_ADDRESS);
  };
  const nacked = await addressType();
  t.equal(nacked?.state, 'NACKED', '/debug/connections: the address type is NACKED on that stream');
  t.equal(nacked?.nackedVersion, nacked?.sentVersion, 'the NACKed version is the one last sent');
  t.not(nacked?.ackedVersion, nacked?.nackedVersion, 'the ACKed version is an older one');
  t.ok(nacked && nacked.acks >= 1 && nacked.nacks === 1, 'ACKs and NACKs counted');
  t.match(nacked?.lastNack, /./, 'the NACK message');
  // Later changes still flow.
  await cluster.store.apply(pod('web-4', '10.244.1.14'));
  await waitFor(() => c.addresses.has(uid('web-4')), 'the next change after a NACK');
  await waitFor(async () => (await addressType())?.state === 'SYNCED', 'the stream to be SYNCED again after the next ACK');
  const synced = await addressType();
  t.equal(synced?.ackedVersion, synced?.sentVersion, 'SYNCED: the last version sent is ACKed');
  t.notOk(c.addresses.has(uid('poison')));
  await cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'poison' });
  await cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-4' });
});

t.test('three clients at once', async (t) => {
  const clients = [1, 2, 3].map((i) => newClient(`ztunnel-multi-${i}`));
  await Promise.all(clients.map((c) => c.client.synced));
  await cluster.store.apply(pod('web-5', '10.244.1.15'));
  await waitFor(() => clients.every((c) => c.addresses.has(uid('web-5'))), 'web-5 at all three clients');
  t.ok(clients.every((c) => c.names().join() === clients[0]!.names().join()), 'all three hold the same resources');
  await cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-5' });
  await waitFor(() => clients.every((c) => !c.addresses.has(uid('web-5'))), 'the removal at all three');
});

t.test('xDS without a valid credential is refused with UNAUTHENTICATED', async (t) => {
  for (const [what, tok] of [['no credential', ''], ['a forged credential', `${token.slice(0, -4)}AAAA`]] as const) {
    const c = newClient(`intruder-${what}`, tok);
    const detail = await new Promise<string>((resolve) => c.client.on('state', (s, d) => s === 'backoff' && resolve(d ?? '')));
    t.match(detail, /UNAUTHENTICATED/, `${what}: ${detail}`);
    t.equal(c.names().length, 0, 'nothing was served');
    c.client.close();
  }
  const refused = await httpGet(cluster.plane.addresses.monitoring, '/metrics');
  t.match(refused.body, /ambit_xds_unauthenticated_streams_total\{reason="CREDENTIAL_MISSING"\} [1-9]/);
});

t.test('policy status is written back', async (t) => {
  const key = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', namespace: NS, name: 'l7-only' };
  await waitFor(async () => Array.isArray(((await cluster.store.get(key))?.status as { conditions?: unknown } | undefined)?.conditions), 'a status on l7-only');
  const ap = await cluster.store.get(key);
  const cond = (ap?.status as { conditions: Array<Record<string, string>> }).conditions.find((c) => c.type === 'ZtunnelAccepted');
  t.match(cond, { status: 'False', reason: 'UnsupportedValue', message: /methods/ }, 'ZtunnelAccepted names the dropped HTTP field');
  const rv = ap?.metadata.resourceVersion;
  await settle();
  t.equal((await cluster.store.get(key))?.metadata.resourceVersion, rv, 'an unchanged status is not rewritten');
});

t.test('L7 status is written back: a route to a missing Service names the field', async (t) => {
  const key = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', namespace: NS, name: 'to-nowhere' };
  await cluster.store.apply({ ...key, metadata: { name: key.name, namespace: NS }, spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ backendRefs: [{ name: 'nope', port: 80 }] }] } });
  const conditions = async (): Promise<Array<Record<string, string>>> => ((await cluster.store.get(key))?.status as { conditions?: Array<Record<string, string>> } | undefined)?.conditions ?? [];
  await waitFor(async () => (await conditions()).length === 2, 'conditions on the HTTPRoute');
  const resolved = (await conditions()).find((c) => c.type === 'ResolvedRefs');
  t.match(resolved, { status: 'False', reason: 'BackendNotFound', message: /spec\.rules\[0\]\.backendRefs\[0\]\.name: Service .*\/nope does not exist/ });
  await cluster.store.delete(key);
});

t.test('the root is published: ConfigMap in every namespace and a file', async (t) => {
  for (const ns of [NS, 'istio-system']) {
    await waitFor(async () => (await cluster.store.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'istio-ca-root-cert' })) !== undefined, `the root ConfigMap in ${ns}`);
    const cm = await cluster.store.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: 'istio-ca-root-cert' });
    t.equal((cm?.data as Record<string, string>)['root-cert.pem'], cluster.plane.rootCertPem, `${ns}: root-cert.pem`);
  }
  t.equal(readFileSync(cluster.plane.rootCertFile, 'utf8'), cluster.plane.rootCertPem);
  await cluster.store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'late' } });
  await waitFor(async () => (await cluster.store.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'late', name: 'istio-ca-root-cert' })) !== undefined, 'the root in a new namespace');
  t.pass('a new namespace gets it too');
});

t.test('metrics, debug model and readiness are served', async (t) => {
  const metrics = await httpGet(cluster.plane.addresses.monitoring, '/metrics');
  t.equal(metrics.status, 200);
  for (const m of ['pilot_xds_pushes{type="wds"}', 'pilot_xds ', 'pilot_proxy_convergence_time_bucket', 'citadel_server_csr_count', 'ambit_model_rebuild_seconds_count']) t.ok(metrics.body.includes(m), m);
  const lint = await promtoolCheck(metrics.body);
  t.same(lint.problems, [], "the control plane's exposition passes promtool check metrics (but for Istio's own names)");
  t.ok(lint.excused.length > 0 && lint.excused.every((l) => /^(pilot|citadel)_/.test(l)), 'only istiod-named counters are excused');
  const model = JSON.parse((await httpGet(cluster.plane.addresses.monitoring, `/debug/model?namespace=${NS}`)).body) as { workloads: Array<{ uid: string; addresses: string[] }>; policyStatus: unknown[]; problems: unknown[] };
  t.ok(model.workloads.some((w) => w.uid === uid('web-1') && w.addresses[0] === '10.244.1.11'), 'readable workloads');
  t.ok(model.policyStatus.length >= 2);
  t.equal((await httpGet(cluster.plane.addresses.readiness, '/healthz/ready')).status, 200);
});

t.test('the embedded OTLP receiver takes OTLP/JSON and protobuf and answers /api/traces in Jaeger\'s shape', async (t) => {
  const base = `http://${cluster.plane.addresses.monitoring}`;
  const trace = '5b8efff798038103d269b633813fc60c';
  const doc = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'frontend' } }] }, scopeSpans: [{ spans: [{ traceId: trace, spanId: 'eee19b7ec3c1b174', name: 'GET /', kind: 2, startTimeUnixNano: '1764800000000000000', endTimeUnixNano: '1764800000002000000', attributes: [{ key: 'http.status_code', value: { intValue: '200' } }] }] }] }] };
  const json = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
  t.equal(json.status, 200);
  t.same(await json.json(), {}, 'an empty ExportTraceServiceResponse');
  const proto = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeSpans({ service: 'backend' }, [{ traceId: trace, spanId: 'aaa19b7ec3c1b174', parentSpanId: 'eee19b7ec3c1b174', name: 'inbound', kind: 'server', startNs: 1764800000001000000n, endNs: 1764800000001500000n, attributes: {}, status: { code: 'unset' } }]) });
  t.equal(proto.status, 200);
  const one = (await (await fetch(`${base}/api/traces/${trace}`)).json()) as { data: Array<{ spans: Array<{ spanID: string; startTime: number; duration: number; references: Array<{ spanID: string }>; processID: string }>; processes: Record<string, { serviceName: string }> }> };
  const [tr] = one.data;
  t.same(tr!.spans.map((s) => [tr!.processes[s.processID]!.serviceName, s.spanID, s.references[0]?.spanID, s.startTime, s.duration]), [
    ['frontend', 'eee19b7ec3c1b174', undefined, 1764800000000000, 2000],
    ['backend', 'aaa19b7ec3c1b174', 'eee19b7ec3c1b174', 1764800000001000, 500],
  ], 'both encodings in one trace, microseconds as Jaeger has them');
  t.equal(((await (await fetch(`${base}/api/traces?service=backend`)).json()) as { data: unknown[] }).data.length, 1);
  const bad = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  t.equal(bad.status, 415);
  t.match(await bad.text(), /content-type must be application\/x-protobuf or application\/json/);
  const broken = await fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}' });
  t.equal(broken.status, 400);
  t.match(await broken.text(), /span 0 traceId: ids are hex strings/);
  t.equal((await fetch(`${base}/v1/traces`)).status, 405, 'the receiver only takes POST');
});

// Last: it restarts the control plane.
t.test('a client that reconnects gets only the difference', async (t) => {
  const c = newClient('ztunnel-reconnect');
  await c.client.synced;
  await settle(c);
  const before = c.addressResponses.length;
  const states: string[] = [];
  c.client.on('state', (s) => states.push(s));
  await cluster.plane.close();
  await waitFor(() => states.includes('backoff'), 'the client to notice');
  await cluster.store.apply(pod('web-6', '10.244.1.16'));
  await cluster.store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-2' }, { metadata: { labels: { app: 'web', version: 'v9' } } });
  await cluster.store.delete({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'web-1' });
  await cluster.restart();
  await waitFor(() => c.addresses.has(uid('web-6')) && !c.addresses.has(uid('web-1')), 'the changes after reconnecting');
  await settle(c);
  t.same(c.addressResponses.slice(before), [{ upserts: [uid('web-2'), uid('web-6')], removals: [uid('web-1')] }, MARKED], 'one response with only what changed');
  t.same(c.responses.get(TYPE_ADDRESS)!.length, before + 2, 'that one, and the settle marker');
});
