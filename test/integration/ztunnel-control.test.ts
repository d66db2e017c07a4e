// ztunnel against the real control plane on loopback (no namespaces): xDS and certificates over
// TLS trusting the published root file, the node credential from a file as a bearer token; the
// last good state kept while the control plane is down; certificates only for pods on its node.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { ZdsServer } from '../../lib/zds/server.js';
import { startZtunnel } from '../../ztunnel/app.js';
import { resolveConfig } from '../../ztunnel/config.js';
import { startCluster, waitFor } from './testkit/control.js';
import { fetchText, LogCapture } from './testkit/ztunnel.js';

const NS = 'demo';
const UID = (name: string): string => `Kubernetes//Pod/${NS}/${name}`;

function pod(name: string, ip: string, node: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'web' }, annotations: { 'ambient.istio.io/redirection': 'enabled' } },
    spec: { nodeName: node, serviceAccountName: 'web', containers: [{ name: 'app', image: 'echo' }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function populate(store: ClusterStore): Promise<void> {
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  await store.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
  await store.apply(pod('web-1', '10.244.1.11', 'node-1'));
  await store.apply({ ...pod('other-1', '10.244.2.11', 'node-2'), spec: { nodeName: 'node-2', serviceAccountName: 'other', containers: [{ name: 'app', image: 'echo' }] } });
}

t.test('ztunnel with the real control plane', async (t) => {
  const cluster = await startCluster(t, 'ztctl', populate);
  const credentialFile = path.join(cluster.stateDir, 'node-1.token');
  await writeFile(credentialFile, `${cluster.plane.issueNodeCredential('node-1')}\n`, { mode: 0o600 });
  const zdsSocket = path.join(cluster.stateDir, 'ztunnel.sock');
  const agent = new ZdsServer({ socketPath: zdsSocket });
  await agent.start();
  t.teardown(() => agent.close());
  const config = resolveConfig(
    {
      nodeName: 'node-1',
      xdsAddress: cluster.plane.addresses.grpc,
      caRoot: cluster.plane.rootCertFile,
      credentialFile,
      zdsSocket,
      adminAddress: '127.0.0.1:0',
      metricsAddress: '127.0.0.1:0',
      readinessAddress: '127.0.0.1:0',
      certTtl: '1h',
    },
    {},
  );
  const logs = new LogCapture('debug');
  const zt = await startZtunnel(config, { logger: logs.logger, xdsBackoff: { initialMs: 50, maxMs: 300 } });
  t.teardown(() => zt.close(0));
  await zt.whenReady();
  t.equal((await fetchText(`http://${zt.addresses.readiness}/healthz/ready`)).status, 200, 'ready: empty ZDS snapshot + xDS synced over TLS');
  t.ok(zt.state.workloadByUid(UID('web-1')), 'workloads from the control plane');

  const creds = await zt.secrets.get('spiffe://cluster.local/ns/demo/sa/web');
  t.equal(creds.identity, 'spiffe://cluster.local/ns/demo/sa/web', 'a certificate over gRPC + TLS with the node credential');
  t.ok(creds.rootsPem.length >= 1);
  await t.rejects(zt.secrets.get('spiffe://cluster.local/ns/demo/sa/other'), /refused/, 'no certificate for a service account that has no pod on this node');
  zt.secrets.forget('spiffe://cluster.local/ns/demo/sa/other');

  const dump = JSON.parse((await fetchText(`http://${zt.addresses.admin}/config_dump`)).body) as { workloads: Array<{ uid: string }>; certificates: Array<{ identity: string; state: string; notAfter?: string }>; status: { xds: string }; config: { credential?: string } };
  t.ok(dump.workloads.some((w) => w.uid === UID('web-1')));
  t.match(dump.certificates.find((c) => c.identity.endsWith('/sa/web')), { state: 'available', notAfter: /Z$/ });
  t.equal(dump.status.xds, 'connected');
  t.equal((await fetchText(`http://${zt.addresses.admin}/logging?level=debug`)).status, 200);
  t.equal((await fetchText(`http://${zt.addresses.admin}/logging?level=shout`)).status, 400);
  t.match((await fetchText(`http://${zt.addresses.metrics}/stats/prometheus`)).body, /istio_build\{component="ztunnel"/);

  // The control plane goes away: the last good state stays, and comes back up to date after.
  await cluster.plane.close();
  await waitFor(() => zt.notReady().length === 0 && logs.find(/xDS stream to .* lost/).length > 0, 'the xDS stream to drop');
  t.ok(zt.state.workloadByUid(UID('web-1')), 'state kept while the control plane is unreachable');
  await cluster.store.apply(pod('web-2', '10.244.1.12', 'node-1'));
  await cluster.restart();
  await waitFor(() => zt.state.workloadByUid(UID('web-2')) !== undefined, 'the new pod after the reconnect', 20_000);
  t.ok(zt.state.workloadByUid(UID('web-1')), 'and the old one is still there');
});
