// The network layer end to end in real namespaces: fabric, real CNI plugins, Service VIPs, teardown.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exec } from '../../../lib/sys/exec.js';
import { inNetns, listNetns, NETNS_DIR, netnsPath } from '../../../lib/sys/netns.js';
import { ownScratch } from '../../../lib/sys/testkit.js';
import { addChain, checkPodNetwork, CniError, createPodNetwork, deletePodNetwork, setupNodeCni, type CniNode, type PodNetwork } from './cni.js';
import { createCluster, teardown, type ClusterNetwork } from './fabric.js';
import { ServiceProxy, type ServiceSpec } from './kube-proxy.js';
import { startPortForward } from './port-forward.js';
import { startServer, tcpRequests, type Server } from './testkit.js';

if (process.getuid?.() !== 0) {
  t.fail('these tests create network namespaces: run them as root (iproute2, iptables, conntrack, containernetworking-plugins)');
  process.exit(1);
}

const prefix = `tn${process.pid}`;
// teardown(prefix) below is the normal way out; this also removes the cluster's namespaces when the
// test is killed (every name of a cluster starts with `${prefix}-`).
ownScratch(`cluster-${prefix}`, netnsPath(`${prefix}-fabric`), [
  ['sh', '-c', `for n in $(ls ${NETNS_DIR}); do case "$n" in ${prefix}-*) ip netns del "$n";; esac; done`],
]);
const servers: Server[] = [];
let stateDir = '';

t.teardown(async () => {
  for (const s of servers) s.stop();
  await teardown(prefix);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

t.test('local cluster network', async (t) => {
  stateDir = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  await createCluster({ prefix, nodes: 1 });
  await t.rejects(createCluster({ prefix, nodes: 2 }), /already exist.*ambit down/, 'a second cluster with the same prefix is refused');
  let t0 = performance.now();
  const c: ClusterNetwork = await createCluster({ prefix, nodes: 2, replace: true });
  const createMs = performance.now() - t0;
  t.same(listNetns(`${prefix}-`).sort(), [`${prefix}-control`, `${prefix}-fabric`, `${prefix}-node-1`, `${prefix}-node-2`]);
  const fwd = await inNetns(c.nodes[0]!.netns, 'sysctl', ['-n', 'net.ipv4.ip_forward', 'net.bridge.bridge-nf-call-iptables']);
  t.same(fwd.stdout.trim().split('\n'), ['1', '1'], 'forwarding and bridge netfilter on in the node');

  const cni: CniNode[] = await Promise.all(c.nodes.map((n) => setupNodeCni(prefix, n, stateDir)));
  const pods: Record<string, PodNetwork> = {};
  const addMs: number[] = [];
  const place: [string, number][] = [['a1', 0], ['a2', 0], ['b1', 1], ['b2', 1], ['a3', 0], ['b3', 1]];
  for (const [name, node] of place) {
    const p = await createPodNetwork(cni[node]!, { namespace: 'demo', name, uid: `uid-${name}` });
    pods[name] = p;
    addMs.push(p.addMs);
  }
  const { a1, a2, b1 } = pods as Record<'a1' | 'a2' | 'b1', PodNetwork>;

  t.test('pods get addresses on their node', async (t) => {
    t.match(a1.ip, /^10\.244\.1\.\d+$/);
    t.match(b1.ip, /^10\.244\.2\.\d+$/);
    t.equal(a1.gateway, '10.244.1.1');
    t.equal(a1.ifname, 'eth0');
    t.match(a1.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    t.equal(a1.netns, `${prefix}-pod-demo_a1`);
    const lo = await inNetns(a1.netns, 'ip', ['-o', 'link', 'show', 'lo']);
    t.match(lo.stdout, /UP/, 'lo is up in the pod');
    await checkPodNetwork(cni[0]!, { namespace: 'demo', name: 'a1' });
    await t.rejects(createPodNetwork(cni[0]!, { namespace: 'demo', name: 'a1' }), /already has a network/);
  });

  servers.push(await startServer(a1.netns, 'A1', 8080), await startServer(a2.netns, 'A2', 8080), await startServer(b1.netns, 'B1', 8080));

  t.test('pod to pod across nodes, control plane to pods', async (t) => {
    t.same(await tcpRequests(a1.netns, b1.ip, 8080), [`B1 ${a1.ip}`], 'node 1 → node 2 keeps the pod source');
    t.same(await tcpRequests(b1.netns, a1.ip, 8080), [`A1 ${b1.ip}`]);
    t.same(await tcpRequests(c.control.netns, b1.ip, 8080), [`B1 ${c.control.address}`]);
    t.same(await tcpRequests(a2.netns, a1.ip, 8080), [`A1 ${a2.ip}`], 'same node over cni0');
  });

  const proxies = c.nodes.map((n) => new ServiceProxy({ netns: n.netns }));
  const web: ServiceSpec = { namespace: 'demo', name: 'web', clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: 8080 }] };
  const sync = (ips: string[], extra: ServiceSpec[] = []) => Promise.all(proxies.map((p) => p.sync([web, ...extra], { 'demo/web': ips.map((ip) => ({ ip })) })));

  t.test('Service VIP: both endpoints, hairpin, same node, no endpoints', async (t) => {
    await sync([a1.ip, b1.ip]);
    const fromA2 = await tcpRequests(a2.netns, '10.96.0.20', 80, 24);
    t.same(new Set(fromA2), new Set([`A1 ${a2.ip}`, `B1 ${a2.ip}`]), 'a pod on node 1 reaches both endpoints, with its own source');
    const fromA1 = await tcpRequests(a1.netns, '10.96.0.20', 80, 24);
    t.same(new Set(fromA1), new Set(['A1 10.244.1.1', `B1 ${a1.ip}`]), 'hairpin: an endpoint reaching itself sees the node gateway');
    await sync([a2.ip]);
    t.same(await tcpRequests(a1.netns, '10.96.0.20', 80, 3), Array(3).fill(`A2 ${a1.ip}`), 'same-node endpoint, source kept (br_netfilter)');
    t.same(await tcpRequests(b1.netns, '10.96.0.20', 80, 1), [`A2 ${b1.ip}`]);
    await sync([]);
    t.same(await tcpRequests(a1.netns, '10.96.0.20', 80, 1), ['error ECONNREFUSED'], 'no endpoints: refused at once');
    const dnsServer = await startServer(c.control.netns, 'DNS', 5353, c.control.dnsAddress);
    servers.push(dnsServer);
    const dns: ServiceSpec = { namespace: 'kube-system', name: 'kube-dns', clusterIP: '10.96.0.10', ports: [{ name: 'dns-tcp', port: 53, targetPort: 5353 }] };
    await Promise.all(proxies.map((p) => p.sync([web, dns], { 'kube-system/kube-dns': [{ ip: c.control.dnsAddress }] })));
    t.same(await tcpRequests(b1.netns, '10.96.0.10', 53, 1), [`DNS ${b1.ip}`], 'a VIP backed by the control namespace’s DNS address');
  });

  t.test('rules are replaced atomically and others’ rules survive', async (t) => {
    const n1 = c.nodes[0]!.netns;
    await inNetns(n1, 'iptables-restore', ['--noflush'], { input: '*nat\n:OTHER-POST - [0:0]\n-A POSTROUTING -j OTHER-POST\n-A OTHER-POST -d 192.0.2.1/32 -j RETURN\nCOMMIT\n' });
    await sync([a1.ip, b1.ip]);
    const client = tcpRequests(a2.netns, '10.96.0.20', 80, 40);
    let done = false;
    void client.finally(() => (done = true));
    const sets = [[a1.ip], [b1.ip], [a1.ip, b1.ip], [b1.ip, a1.ip]];
    let syncs = 0;
    while (!done) await sync(sets[syncs++ % sets.length]!);
    const answers = await client;
    t.ok(syncs >= 3, `${syncs} syncs during the requests`);
    t.same(answers.filter((a) => !/^(A1|B1) /.test(a)), [], 'no request failed while rules changed');
    const save = (await inNetns(n1, 'iptables-save', ['-t', 'nat'])).stdout;
    t.equal(save.match(/-j AMBIT-SERVICES/g)?.length, 2, 'one jump each from PREROUTING and OUTPUT after many syncs');
    t.match(save, /-A POSTROUTING -j OTHER-POST/);
    t.match(save, /-A OTHER-POST -d 192.0.2.1\/32 -j RETURN/);
    await proxies[0]!.remove();
    const after = (await inNetns(n1, 'iptables-save', [])).stdout;
    t.notMatch(after, /AMBIT-/, 'remove() leaves none of ours');
    t.match(after, /-A OTHER-POST -d 192.0.2.1\/32 -j RETURN/, 'and all of theirs');
  });

  t.test('stale UDP conntrack entries go when their endpoint does', async (t) => {
    const dns: ServiceSpec = { namespace: 'demo', name: 'dns', clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP', targetPort: 5353 }] };
    const p = proxies[0]!;
    await p.sync([dns], { 'demo/dns': [{ ip: b1.ip }] });
    const send = "const s=require('node:dgram').createSocket('udp4');s.send('q',53,'10.96.0.10',()=>s.close())";
    await inNetns(a2.netns, process.execPath, ['-e', send]);
    const ct = await inNetns(c.nodes[0]!.netns, 'conntrack', ['-L', '-p', 'udp', '--orig-dst', '10.96.0.10'], { allowFail: true });
    t.match(ct.stdout, new RegExp(`src=${b1.ip.replace(/\./g, '\\.')} dst=${a2.ip.replace(/\./g, '\\.')}`), 'flow DNATed to the endpoint');
    const r = await p.sync([dns], { 'demo/dns': [] });
    t.equal(r.conntrackDeleted, 1);
    await p.remove();
  });

  t.test('CNI DEL is idempotent, CHECK and ADD errors name the plugin', async (t) => {
    const ref = { namespace: 'demo', name: 'b2' };
    t.same(await deletePodNetwork(cni[1]!, ref), []);
    t.same(await deletePodNetwork(cni[1]!, ref), [], 'second DEL is fine');
    t.notOk(existsSync(`/var/run/netns/${prefix}-pod-demo_b2`));
    await t.rejects(checkPodNetwork(cni[1]!, ref), /no cached CNI result/);
    const again = await createPodNetwork(cni[1]!, ref);
    t.match(again.ip, /^10\.244\.2\./, 're-added after DEL');
    const list = { cniVersion: '1.0.0', name: 'ambit', plugins: [{ type: 'bridge', bridge: 'cni0', isGateway: true, ipam: { type: 'host-local', subnet: '10.244.2.0/24', dataDir: path.join(stateDir, 'x') } }] };
    const inv = { containerId: 'ghost', netnsPath: '/var/run/netns/does-not-exist', ifname: 'eth0', args: { K8S_POD_NAMESPACE: 'demo', K8S_POD_NAME: 'ghost' } };
    const err = await addChain(cni[1]!, list, inv, 'demo/ghost').then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof CniError, 'a CniError');
    t.match((err as Error).message, /^CNI ADD of pod demo\/ghost failed in plugin bridge.*does-not-exist/);
    t.equal((err as CniError).info.plugin, 'bridge');
  });

  t.test('port-forward from the host loopback into a pod', async (t) => {
    const pf = await startPortForward({ netns: b1.netns, host: '127.0.0.1', port: 8080 });
    t.teardown(() => pf.close());
    t.equal(pf.address, '127.0.0.1');
    t.same(await hostRequest(pf.port), 'B1 127.0.0.1');
    t.same(await hostRequest(pf.port), 'B1 127.0.0.1');
  });

  t.test('teardown removes everything', async (t) => {
    await mkdir(`/etc/netns/${prefix}-node-1`, { recursive: true });
    await writeFile(`/etc/netns/${prefix}-node-1/resolv.conf`, 'nameserver 10.240.0.3\n');
    for (const s of servers.splice(0)) s.stop();
    t0 = performance.now();
    const r = await teardown(prefix, { stateDir });
    const teardownMs = performance.now() - t0;
    t.equal(r.namespaces.length, 4 + Object.keys(pods).length);
    t.same(r.etcDirs, [`${prefix}-node-1`]);
    t.same(listNetns(`${prefix}-`), []);
    t.same(existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)) : [], []);
    const links = await exec('ip', ['-o', 'link', 'show']);
    t.notMatch(links.stdout, new RegExp(prefix));
    t.notOk(existsSync(path.join(stateDir, 'cni')), 'IPAM state removed with stateDir');
    t.same(await teardown(prefix), { namespaces: [], etcDirs: [], links: [] }, 'idempotent');
    t.comment(`create ${createMs.toFixed(0)} ms, teardown ${teardownMs.toFixed(0)} ms, CNI ADD median ${median(addMs).toFixed(0)} ms (${addMs.map((x) => x.toFixed(0)).join(' ')})`);
  });
});

function hostRequest(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out.trim()));
    s.on('error', (e) => resolve(`error ${e.message}`));
  });
}
