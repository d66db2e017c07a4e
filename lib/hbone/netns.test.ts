// Needs root. HBONE as ztunnel uses it: the server listens on an fd made inside one namespace,
// the client dials from another through a marked socket that is still connecting (lib/native).
import t from 'tap';
import { connectInNetns, listenFdInNetns, listenInNetns, startConnectInNetns } from '../native/index.js';
import { delNetns, inNetns, ipBatch, netnsPath } from '../sys/netns.js';
import { addTestNetns } from '../sys/testkit.js';
import { HbonePool } from './pool.js';
import { HboneServer, type ConnectRequest } from './server.js';
import { createTestPki, startEchoServer } from './testkit.js';

if (process.getuid?.() !== 0) throw new Error('lib/hbone netns tests need root (network namespaces)');

const A = `thba${process.pid}`;
const B = `thbb${process.pid}`;
const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';

t.before(async () => {
  await Promise.all([delNetns(A), delNetns(B)]);
  await addTestNetns(A);
  await addTestNetns(B);
  await ipBatch([`link add hba${process.pid} netns ${A} type veth peer name hbb${process.pid} netns ${B}`]);
  await ipBatch([`addr add 10.78.0.1/24 dev hba${process.pid}`, `addr add fd78::1/64 dev hba${process.pid} nodad`, `link set hba${process.pid} up`, 'link set lo up'], A);
  await ipBatch([`addr add 10.78.0.2/24 dev hbb${process.pid}`, `addr add fd78::2/64 dev hbb${process.pid} nodad`, `link set hbb${process.pid} up`, 'link set lo up'], B);
  // Port 81 swallows SYNs: a connect there times out, as behind a NetworkPolicy.
  await inNetns(B, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '81', '-j', 'DROP']);
});

t.after(async () => {
  await Promise.all([delNetns(A), delNetns(B)]);
});

t.test('tunnel between two namespaces, IPv4 and IPv6', async (t) => {
  const pki = await createTestPki();
  const serverCreds = await pki.issue(SERVER_ID);
  const clientCreds = await pki.issue(CLIENT_ID);
  const echo = await startEchoServer(); // in the test's own namespace: the handler reaches it from here
  t.teardown(() => echo.close());
  // The app lives in B, on its loopback.
  const app = await listenInNetns(netnsPath(B), '127.0.0.1', 9080);
  app.on('connection', (s) => s.pipe(s));
  t.teardown(() => app.close());
  const seen: ConnectRequest[] = [];
  const server = new HboneServer({
    credentials: () => serverCreds,
    onConnect: async (req) => {
      seen.push(req);
      return { status: 200, upstream: await connectInNetns(netnsPath(B), '127.0.0.1', req.port, { mark: 0x539 }) };
    },
  });
  t.teardown(() => server.close());
  const v4 = await server.listen({ fd: listenFdInNetns(netnsPath(B), '10.78.0.2', 15008, { mark: 0x539 }) });
  const v6Server = await listenInNetns(netnsPath(B), 'fd78::2', 15008);
  t.teardown(() => v6Server.close()); // the caller owns a server it hands in
  const v6 = await server.listen({ server: v6Server });
  t.same(v4, { address: '10.78.0.2', port: 15008, family: 4 });
  t.same(v6, { address: 'fd78::2', port: 15008, family: 6 });

  const pool = new HbonePool();
  t.teardown(() => pool.close());
  const socketFactory = (host: string, port: number) => startConnectInNetns(netnsPath(A), host, port, { mark: 0x539 });
  for (const [destination, authority, peer] of [
    ['10.78.0.2:15008', '10.78.0.2:9080', '10.78.0.1'],
    ['[fd78::2]:15008', '[fd78::2]:9080', 'fd78::1'],
  ] as const) {
    const tun = await pool.connect({ sourceIdentity: CLIENT_ID, destinationIdentities: [SERVER_ID], destination, credentials: clientCreds, socketFactory, authority });
    const got: Buffer[] = [];
    tun.on('data', (d: Buffer) => got.push(d));
    const ended = new Promise((r) => tun.once('end', r));
    tun.end(`hello over ${destination}`);
    await ended;
    t.equal(Buffer.concat(got).toString(), `hello over ${destination}`);
    t.equal(seen.at(-1)!.peerAddress.address, peer, 'the server saw the client namespace address');
    t.equal(seen.at(-1)!.peerIdentity, CLIENT_ID);
  }
  const impatient = new HbonePool({ connectTimeoutMs: 500 });
  t.teardown(() => impatient.close());
  await t.rejects(impatient.connect({ sourceIdentity: CLIENT_ID, destinationIdentities: [SERVER_ID], destination: '10.78.0.2:81', credentials: clientCreds, socketFactory, authority: '10.78.0.2:9080' }), {
    code: 'HBONE_CONNECT_TIMEOUT',
    message: /connection to 10\.78\.0\.2:81 timed out after 0\.5 s; is a NetworkPolicy blocking HBONE port 81\?/,
  });
});
