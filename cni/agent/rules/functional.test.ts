// Traffic through the rules, per backend: a pod namespace joined to an "outside" one by a veth.
// Outbound TCP lands on 15001, inbound on 15006, HBONE 15008 is left alone, ztunnel-marked
// sockets bypass capture, probes from 169.254.7.127 go straight to the app, and ztunnel's
// spoofed-source connection to the app gets its replies back (connmark + table 100).
import t from 'tap';
import type net from 'node:net';
import { exec } from '../../../lib/sys/exec.js';
import { delNetns, netnsPath } from '../../../lib/sys/netns.js';
import { connectInNetns, listenInNetns } from '../../../lib/native/index.js';
import { PodRedirector } from './redirect.js';
import { closeServer, podPair, readAll, requireRoot, tagged } from './testkit.js';
import type { BackendPreference } from './backend.js';

requireRoot('cni/agent/rules/functional.test');

const backends: BackendPreference[] = ['iptables', 'nft'];

for (const [i, backend] of backends.entries()) {
  t.test(`traffic with the ${backend} backend`, async (t) => {
    const pod = `tfp${process.pid}${i}`;
    const out = `tfo${process.pid}${i}`;
    const servers: net.Server[] = [];
    t.teardown(async () => {
      for (const s of servers) await closeServer(s);
      await delNetns(pod);
      await delNetns(out);
    });
    await podPair(pod, out, `${process.pid}${i}`);
    const P = netnsPath(pod);
    const O = netnsPath(out);
    // The pod side: ztunnel's three listeners (marked, as ztunnel's are) and the app on 9090.
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 15001, { mark: 0x539 }), 'outbound'));
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 15006, { mark: 0x539, transparent: true }), 'inbound'));
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 15008, { mark: 0x539, transparent: true }), 'hbone'));
    servers.push(tagged(await listenInNetns(P, '0.0.0.0', 9090), 'app'));
    servers.push(tagged(await listenInNetns(O, '0.0.0.0', 8080), 'outside'));
    // A kubelet-like prober: the outside namespace owns the probe SNAT address.
    await exec('ip', ['-n', out, 'addr', 'add', '169.254.7.127/32', 'dev', `o${process.pid}${i}`]);
    await exec('ip', ['-n', pod, 'route', 'add', '169.254.7.127/32', 'via', '10.99.0.1']);

    const ask = async (ns: string, host: string, port: number, opts = {}): Promise<string> =>
      readAll(await connectInNetns(ns, host, port, { timeoutMs: 5000, ...opts }));

    t.match(await ask(P, '10.99.0.1', 8080), /^outside /, 'before: the pod reaches the outside directly');

    const r = new PodRedirector({ backend });
    const t0 = performance.now();
    await r.apply(pod);
    t.comment(`apply (${backend}) took ${Math.round(performance.now() - t0)} ms`);

    t.match(await ask(P, '10.99.0.1', 8080), /^outbound 10\.99\.0\.1:8080 /, 'outbound TCP lands on 15001 with its original destination');
    t.equal(await ask(O, '10.99.0.2', 9090), 'inbound 10.99.0.2:9090 10.99.0.1', 'inbound TCP lands on 15006 with its original destination');
    t.match(await ask(O, '10.99.0.2', 15008), /^hbone \S+ 10\.99\.0\.1$/, 'inbound 15008 is not redirected');
    t.match(await ask(P, '10.99.0.1', 8080, { mark: 0x539 }), /^outside \S+ 10\.99\.0\.2$/, 'a socket marked 0x539 bypasses capture');
    t.match(await ask(P, '10.99.0.1', 8080, { mark: 0x538 }), /^outbound /, 'another mark does not');
    t.match(await ask(O, '10.99.0.2', 9090, { localAddress: '169.254.7.127' }), /^app \S+ 169\.254\.7\.127$/, 'probes from 169.254.7.127 reach the app directly');
    t.match(
      await ask(P, '10.99.0.2', 9090, { mark: 0x539, transparent: true, localAddress: '10.99.0.1' }),
      /^app \S+ 10\.99\.0\.1$/,
      "ztunnel's spoofed-source connection to the app completes (connmark + table 100)",
    );

    await r.remove(pod);
    t.match(await ask(P, '10.99.0.1', 8080), /^outside /, 'after removal: direct again');
    t.match(await ask(O, '10.99.0.2', 9090), /^app /, 'after removal: inbound reaches the app');
  });
}
