// End-to-end: workload certificates with a 60 s lifetime rotate (at half-life) under an HBONE
// connection that stays open for 3 minutes, without dropping it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { ROOT, TestCluster } from './testkit.js';

interface CertStatus {
  identity: string;
  serialNumber?: string;
}

t.test('60 s certificates rotate under a 3-minute connection', async (t) => {
  const c = new TestCluster('rotate');
  c.env = { SECRET_TTL: '60s' };
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [path.join(ROOT, 'test', 'fixtures', 'mesh-app.yaml')]);
  const pods = (await c.json<{ items: Pod[] }>('get', 'pods', '-n', 'mesh')).items;
  const client = pods.find((p) => p.metadata.labels?.app === 'client')!;
  const remote = pods.find((p) => p.metadata.labels?.app === 'server' && p.spec.nodeName === 'node-2')!;
  const forwards = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { forwards: Record<string, string> }).forwards;
  const admin = forwards['ztunnel node-1 admin (/config_dump)'];
  t.ok(admin, 'node-1 ztunnel admin is forwarded');
  const serials = async (): Promise<Set<string>> => {
    const dump = (await (await fetch(`http://${admin}/config_dump`)).json()) as { certificates: CertStatus[] };
    return new Set(dump.certificates.filter((x) => x.identity.endsWith('/sa/client')).map((x) => x.serialNumber ?? ''));
  };
  const seen = new Set<string>();
  const sample = setInterval(() => {
    void serials()
      .then((s) => s.forEach((x) => seen.add(x)))
      .catch(() => undefined);
  }, 5000);
  try {
    // One TCP connection, 2 messages a second for 3 minutes, through both ztunnels.
    const r = await c.ambit('exec', `mesh/${client.metadata.name}`, '--', 'ambit', 'echo', 'client', `tcp://${remote.status!.podIP}:9090`, '--qps', '2', '--connections', '1', '--duration', '180s', '--json');
    const report = JSON.parse(r) as { ok: number; errorCount: number; errors: Record<string, number>; reconnects: number };
    t.equal(report.errorCount, 0, `no error on the long connection: ${JSON.stringify(report.errors)}`);
    // The client reopens a lost connection by itself, and between two messages that costs no
    // error: only the reconnect count shows whether the one connection really survived.
    t.equal(report.reconnects, 0, 'the connection was never dropped and reopened');
    t.ok(report.ok >= 340, `messages kept flowing (${report.ok})`);
  } finally {
    clearInterval(sample);
  }
  (await serials()).forEach((x) => seen.add(x));
  t.ok(seen.size >= 3, `the client's certificate rotated several times (${seen.size} serials seen)`);
});
