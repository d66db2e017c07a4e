import t, { type Test } from 'tap';
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { buildSnapshot, type ClusterData } from './records.js';
import { ClusterDnsServer } from './server.js';
import { ips, query, rcodeOf, tcpQuery, tcpRaw, udpQuery, udpRaw } from './testkit.js';

const many = Array.from({ length: 60 }, (_, i) => ({ ip: `10.244.3.${i + 1}`, podName: `big-${i}` }));
const data: ClusterData = {
  services: [
    { namespace: 'shop', name: 'web', clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] },
    { namespace: 'shop', name: 'big', clusterIP: 'None', ports: [{ name: 'http', port: 8080 }], endpoints: many },
  ],
  pods: [{ namespace: 'shop', name: 'web-1', ip: '10.244.1.5' }],
};

async function start(t: Test, d: ClusterData = data, opts: ConstructorParameters<typeof ClusterDnsServer>[1] = {}) {
  const server = new ClusterDnsServer(buildSnapshot(d), { address: '127.0.0.1', port: 0, ...opts });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { server, port };
}

t.test('UDP and TCP answers, read by dns-packet', async (t) => {
  const { port } = await start(t);
  const { reply } = await udpQuery(port, query('web.shop.svc.cluster.local', 'A'));
  t.equal(reply.flag_qr, true);
  t.equal(reply.flag_aa, true);
  t.equal(reply.flag_rd, true);
  t.equal(reply.flag_ra, false, 'no upstream, so no recursion available');
  t.same(ips(reply), ['10.96.0.20']);
  const tcp = await tcpQuery(port, query('Web.Shop.svc.cluster.local', 'A'));
  t.same(ips(tcp), ['10.96.0.20']);
  t.equal(tcp.answers?.[0]?.name, 'Web.Shop.svc.cluster.local', 'owner name echoes the question');
  const nx = (await udpQuery(port, query('nope.shop.svc.cluster.local', 'A'))).reply;
  t.equal(rcodeOf(nx), 3, 'NXDOMAIN');
  t.equal(nx.authorities?.[0]?.type, 'SOA');
  const out = (await udpQuery(port, query('example.com', 'A'))).reply;
  t.equal(rcodeOf(out), 5, 'outside the zone with no upstream: REFUSED');
  t.equal(out.flag_aa, false);
});

t.test('several queries on one TCP connection in one segment', async (t) => {
  const { port } = await start(t);
  const replies = await tcpRaw(port, [
    dnsPacket.encode(query('web.shop.svc.cluster.local', 'A')),
    dnsPacket.encode(query('_http._tcp.web.shop.svc.cluster.local', 'SRV')),
  ]);
  t.equal(replies.length, 2);
  const srv = replies.map((b) => dnsPacket.decode(b)).find((p) => p.answers?.[0]?.type === 'SRV');
  t.match(srv?.answers?.[0], { type: 'SRV', data: { port: 80, target: 'web.shop.svc.cluster.local' } });
  t.match(srv?.additionals, [{ type: 'A', name: 'web.shop.svc.cluster.local', data: '10.96.0.20' }]);
});

t.test('node:dns Resolver accepts the answers', async (t) => {
  const { port } = await start(t);
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  t.same(await r.resolve4('web.shop.svc.cluster.local'), ['10.96.0.20']);
  t.same(await r.resolve4('10-244-1-5.shop.pod.cluster.local'), ['10.244.1.5']);
  t.same(await r.resolveSrv('_http._tcp.web.shop.svc.cluster.local'), [
    { name: 'web.shop.svc.cluster.local', port: 80, priority: 0, weight: 100 },
  ]);
  t.same(await r.reverse('10.96.0.20'), ['web.shop.svc.cluster.local']);
  await t.rejects(r.resolve6('web.shop.svc.cluster.local'), { code: 'ENODATA' }, 'AAAA of a v4-only name: NODATA');
  await t.rejects(r.resolve4('nope.shop.svc.cluster.local'), { code: 'ENOTFOUND' });
  await t.rejects(r.resolve4('example.com'), { code: 'EREFUSED' });
  // 60 addresses do not fit in 512 bytes: c-ares sees TC and retries over TCP.
  t.equal((await r.resolve4('big.shop.svc.cluster.local')).length, 60);
});

t.test('truncation: TC over UDP, whole answer over TCP or with EDNS', async (t) => {
  const { port, server } = await start(t);
  const small = await udpQuery(port, query('big.shop.svc.cluster.local', 'A'));
  t.equal(small.reply.flag_tc, true);
  t.ok(small.size <= 512, `UDP reply of ${small.size} bytes fits 512`);
  t.ok((small.reply.answers?.length ?? 0) > 0 && (small.reply.answers?.length ?? 0) < 60, 'keeps the whole records that fit');
  const edns = await udpQuery(
    port,
    query('big.shop.svc.cluster.local', 'A', {
      additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    }),
  );
  t.equal(edns.reply.flag_tc, false);
  t.equal(ips(edns.reply).length, 60);
  t.match(edns.reply.additionals, [{ type: 'OPT', udpPayloadSize: 1232 }], 'answers EDNS with EDNS');
  const ednsSmall = await udpQuery(
    port,
    query('big.shop.svc.cluster.local', 'A', {
      additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1000, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    }),
  );
  t.equal(ednsSmall.reply.flag_tc, true);
  t.ok(ednsSmall.size <= 1000 && ednsSmall.size > 512, `EDNS 1000 → ${ednsSmall.size} bytes`);
  const tcp = await tcpQuery(port, query('big.shop.svc.cluster.local', 'A'));
  t.equal(tcp.flag_tc, false);
  t.equal(ips(tcp).length, 60);
  t.ok(server.stats.truncated >= 2);
});

t.test('malformed packets: FORMERR or dropped, and the server keeps answering', async (t) => {
  const lines: string[] = [];
  const log = { warn: (o: object, m: string) => lines.push(`${m} ${JSON.stringify(o)}`), info() {}, debug() {}, error() {} };
  const { port, server } = await start(t, data, { log: log as never });
  t.equal(await udpRaw(port, Buffer.from([1, 2, 3]), 300), undefined, 'shorter than a header: dropped');
  const garbage = Buffer.concat([Buffer.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0x3f, 0x61])]);
  const formerr = await udpRaw(port, garbage);
  t.ok(formerr, 'a readable header gets an answer');
  if (formerr) {
    const p = dnsPacket.decode(formerr);
    t.equal(p.id, 0xabcd);
    t.equal(rcodeOf(p), 1, 'FORMERR');
    t.equal(p.flag_rd, true);
  }
  const asResponse = Buffer.from(dnsPacket.encode({ ...query('web.shop.svc.cluster.local', 'A'), type: 'response' }));
  t.equal(await udpRaw(port, asResponse, 300), undefined, 'a response is never answered');
  const update = Buffer.from(dnsPacket.encode(query('web.shop.svc.cluster.local', 'A')));
  update.writeUInt16BE(update.readUInt16BE(2) | (5 << 11), 2);
  const notimp = await udpRaw(port, update);
  t.equal(notimp && rcodeOf(dnsPacket.decode(notimp)), 4, 'UPDATE: NOTIMP');
  const [tcpFormerr] = await tcpRaw(port, [garbage]);
  t.equal(tcpFormerr && rcodeOf(dnsPacket.decode(tcpFormerr)), 1, 'FORMERR over TCP too');
  t.same(ips((await udpQuery(port, query('web.shop.svc.cluster.local', 'A'))).reply), ['10.96.0.20'], 'still answering');
  t.equal(server.stats.malformed, 5);
  t.equal(lines.filter((l) => l.startsWith('malformed DNS query')).length, 5, 'one log line per error');
});

t.test('setData swaps the records', async (t) => {
  const { port, server } = await start(t);
  server.setData(buildSnapshot({ services: [{ namespace: 'shop', name: 'web', clusterIP: '10.96.0.99', ports: [] }], pods: [] }));
  t.same(ips((await udpQuery(port, query('web.shop.svc.cluster.local', 'A'))).reply), ['10.96.0.99']);
  t.equal(rcodeOf((await udpQuery(port, query('big.shop.svc.cluster.local', 'A'))).reply), 3);
});

t.test('forwards names outside the zone to upstreams', async (t) => {
  const upstream = await start(t, { services: [{ namespace: 'x', name: 'far', clusterIP: '10.50.0.1', ports: [] }], pods: [] });
  upstream.server.setData(
    buildSnapshot({ services: [{ namespace: 'x', name: 'far', clusterIP: '10.50.0.1', ports: [] }], pods: [] }, { zone: 'example.test' }),
  );
  // A bound but silent UDP socket and a closed TCP port: the first upstream fails either way.
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  t.teardown(() => silent.close());
  const dead = `127.0.0.1:${silent.address().port}`;
  const { port } = await start(t, data, { upstreams: [dead, `127.0.0.1:${upstream.port}`], upstreamTimeoutMs: 300 });
  const udp = (await udpQuery(port, query('far.x.svc.example.test', 'A'))).reply;
  t.same(ips(udp), ['10.50.0.1']);
  t.equal(udp.flag_aa, true, "the upstream's own flags pass through");
  t.same(ips(await tcpQuery(port, query('far.x.svc.example.test', 'A'))), ['10.50.0.1'], 'over TCP too');
  const local = (await udpQuery(port, query('web.shop.svc.cluster.local', 'A'))).reply;
  t.equal(local.flag_ra, true, 'recursion available once there is an upstream');

  const { port: lonely, server } = await start(t, data, { upstreams: [dead], upstreamTimeoutMs: 200 });
  t.equal(rcodeOf((await udpQuery(lonely, query('far.x.svc.example.test', 'A'))).reply), 2, 'no upstream answers: SERVFAIL');
  t.equal(server.stats.upstreamFailures, 1);
});

t.test('configuration errors are clear', async (t) => {
  t.throws(() => new ClusterDnsServer(buildSnapshot(data), { upstreams: ['dns.google'] }), /DNS upstream 'dns.google' is not an address/);
  const { port } = await start(t);
  const clash = new ClusterDnsServer(buildSnapshot(data), { address: '127.0.0.1', port });
  await t.rejects(clash.listen(), /cluster DNS cannot listen on 127.0.0.1:\d+\/udp: EADDRINUSE; is another DNS server/);
});
