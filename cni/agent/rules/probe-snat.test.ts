// Node-side probe SNAT in real namespaces, per backend: a "node" namespace joined to a pod, and a
// third namespace routed through the node. Local connections from the node to an enrolled pod
// arrive from 169.254.7.127 (and so pass the in-pod rules); forwarded ones do not.
import t from 'tap';
import type net from 'node:net';
import { delNetns, inNetns, ipBatch, netnsPath } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { connectInNetns, listenInNetns } from '../../../lib/native/index.js';
import { PodRedirector } from './redirect.js';
import { ProbeSnat, type ProbeBackendPreference } from './probe-snat.js';
import { closeServer, iptablesDump, nftDump, podPair, readAll, requireRoot, tagged } from './testkit.js';

requireRoot('cni/agent/rules/probe-snat.test');

const backends: ProbeBackendPreference[] = ['ipset', 'nft'];

for (const [i, backend] of backends.entries()) {
  t.test(`probe SNAT with ${backend}`, async (t) => {
    const tag = `${process.pid}${i}`;
    const pod = `tsp${tag}`;
    const node = `tsn${tag}`;
    const far = `tsx${tag}`;
    const servers: net.Server[] = [];
    t.teardown(async () => {
      for (const s of servers) await closeServer(s);
      for (const ns of [pod, node, far]) await delNetns(ns);
    });
    await podPair(pod, node, tag);
    await addTestNetns(far);
    await ipBatch([`link add x${tag} netns ${far} type veth peer name y${tag} netns ${node}`]);
    await ipBatch([`addr add 10.98.0.2/24 dev x${tag}`, `link set x${tag} up`, 'route add default via 10.98.0.1'], far);
    await ipBatch([`addr add 10.98.0.1/24 dev y${tag}`, `link set y${tag} up`], node);
    await inNetns(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // A kube-proxy-like masquerade that must not win over the probe SNAT.
    await inNetns(node, 'iptables', ['-t', 'nat', '-A', 'POSTROUTING', '-d', '10.99.0.0/24', '-j', 'MASQUERADE']);
    const dump = async (): Promise<string> => [
      await iptablesDump(node, 'iptables-save'), await nftDump(node),
      backend === 'ipset' ? (await inNetns(node, 'ipset', ['list', '-n'])).stdout : '',
    ].join('\n--\n');
    const before = await dump();

    const P = netnsPath(pod);
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 9090), 'app'));
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 15006, { mark: 0x539, transparent: true }), 'inbound'));
    await new PodRedirector().apply(pod);
    const ask = async (ns: string): Promise<string> => readAll(await connectInNetns(netnsPath(ns), '10.99.0.2', 9090, { timeoutMs: 5000 }));

    const snat = new ProbeSnat({ netns: node, backend });
    t.equal(snat.kind, backend);
    t.match(await ask(node), /^inbound /, 'without probe SNAT the node is captured like any client');
    await snat.setup();
    await snat.setup();
    t.equal(await snat.ready(), true, 'set up twice: ready, one rule');
    await snat.addPod('10.99.0.2', 'uid-1');
    t.same([...await snat.list()], [['10.99.0.2', 'uid-1']]);
    t.match(await ask(node), /^app \S+ 169\.254\.7\.127$/, 'a probe from the node reaches the app from 169.254.7.127');
    t.match(await ask(far), /^inbound \S+ 10\.99\.0\.1$/, 'forwarded traffic is not SNATed to the probe address (masqueraded, captured)');

    await snat.addPod('10.99.0.2', 'uid-2');
    t.same([...await snat.list()], [['10.99.0.2', 'uid-2']], 're-adding re-labels the entry');
    t.same(await snat.sync(new Map([['10.99.0.7', 'uid-7']])), { added: ['10.99.0.7'], removed: ['10.99.0.2'] }, 'sync prunes and adds');
    t.match(await ask(node), /^inbound /, 'a pod IP no longer in the set is captured again');
    await snat.removePod('10.99.0.7');
    await snat.removePod('10.99.0.7');
    t.same([...await snat.list()], [], 'removing twice is fine');
    await t.rejects(snat.addPod('fd99::2', 'uid'), /without ipv6/);
    await t.rejects(snat.addPod('pod-a', 'uid'), /not a pod IP/);

    await snat.teardown();
    await snat.teardown();
    t.equal(await dump(), before, 'teardown leaves the node as it was');
  });
}
