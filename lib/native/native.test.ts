// Needs root: creates network namespaces tna<pid>/tnb<pid> joined by a veth pair.
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import net from 'node:net';
import { exec } from '../sys/exec.js';
import { delNetns, inNetns, ipBatch, netnsPath } from '../sys/netns.js';
import { addTestNetns } from '../sys/testkit.js';
import {
  closeFd,
  connectInNetns,
  getOriginalDst,
  listenFdInNetns,
  listenInNetns,
  NativeError,
  openNetns,
  setMark,
  setTransparent,
  socketFd,
  startConnectInNetns,
} from './index.js';

if (process.getuid?.() !== 0) throw new Error('lib/native tests need root (network namespaces, iptables)');

const A = `tna${process.pid}`;
const B = `tnb${process.pid}`;
const pathA = netnsPath(A);
const pathB = netnsPath(B);
const nsInode = (): number => statSync('/proc/thread-self/ns/net').ino;
const hostInode = nsInode();

interface Seen {
  remoteAddress: string | undefined;
  originalDst?: unknown;
}

/** Echo server that prefixes replies, so a test can tell which server answered; records each peer. */
function serve(server: net.Server, tag: string, seen: Seen[] = [], withDst = false): net.Server {
  return server.on('connection', (s: net.Socket) => {
    seen.push({ remoteAddress: s.remoteAddress, ...(withDst ? { originalDst: getOriginalDst(s) } : {}) });
    s.on('data', (d: Buffer) => s.write(`${tag}:${d.toString()}`));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
}

/** Sends `msg`, half-closes, and returns everything received until the peer ends. */
function exchange(s: net.Socket, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.once('end', () => resolve(Buffer.concat(got).toString()));
    s.once('error', reject);
    s.end(msg);
  });
}

const closeServer = (s: net.Server): Promise<void> => new Promise((r) => s.close(() => r()));

t.before(async () => {
  await delNetns(B);
  await addTestNetns(A);
  await addTestNetns(B);
  await ipBatch([`link add va${process.pid} netns ${A} type veth peer name vb${process.pid} netns ${B}`]);
  await ipBatch([
    `addr add 10.77.0.1/24 dev va${process.pid}`,
    `addr add fd77::1/64 dev va${process.pid} nodad`,
    `link set va${process.pid} up`,
    'route add default via 10.77.0.2',
    'route add default via fd77::2',
  ], A);
  await ipBatch([
    `addr add 10.77.0.2/24 dev vb${process.pid}`,
    `addr add fd77::2/64 dev vb${process.pid} nodad`,
    `link set vb${process.pid} up`,
    // B owns the "real" 1.2.3.4, which A's REDIRECT rule would otherwise capture.
    'addr add 1.2.3.4/32 dev lo',
  ], B);
  const rules = [
    '*nat',
    '-A OUTPUT -p tcp -d 1.2.3.4 --dport 80 -m mark ! --mark 0x539/0xfff -j REDIRECT --to-ports 15001',
    '-A OUTPUT -p tcp -d 1.2.3.5 --dport 80 -j REDIRECT --to-ports 15002',
    'COMMIT',
    // The in-pod policy routing of a spoofed-source connection (ARCHITECTURE.md §3, step 5).
    '*mangle',
    '-A PREROUTING -m mark --mark 0x539/0xfff -j CONNMARK --set-xmark 0x111/0xfff',
    '-A OUTPUT -m connmark --mark 0x111/0xfff -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff',
    'COMMIT',
  ];
  await inNetns(A, 'iptables-restore', ['--noflush'], { input: rules.join('\n') + '\n' });
  const rules6 = ['*nat', '-A OUTPUT -p tcp -d 2001:db8::1234 --dport 80 -j REDIRECT --to-ports 15002', 'COMMIT'];
  await inNetns(A, 'ip6tables-restore', ['--noflush'], { input: rules6.join('\n') + '\n' });
  await ipBatch(['rule add fwmark 0x111/0xfff pref 32764 lookup 100', 'route replace local 0.0.0.0/0 dev lo table 100'], A);
  // B silently drops port 81, for the connect timeout.
  await inNetns(B, 'iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '81', '-j', 'DROP']);
});

// t.after, unlike the root t.teardown, is awaited before the process exits.
t.after(async () => {
  await Promise.all([delNetns(A), delNetns(B)]);
});

function stillHome(t: Test): void {
  t.equal(nsInode(), hostInode, 'the thread is back in its own namespace');
}

t.test('listener and client inside a namespace', async (t) => {
  const server = serve(await listenInNetns(pathA, '0.0.0.0', 0), 'A');
  t.teardown(() => closeServer(server));
  const { port } = server.address() as net.AddressInfo;
  t.ok(port > 0, 'an ephemeral port was chosen');

  const client = await connectInNetns(pathA, '127.0.0.1', port, { noDelay: true });
  const ss = await inNetns(A, 'ss', ['-tnpH', 'state', 'established']);
  t.match(ss.stdout, new RegExp(`127\\.0\\.0\\.1:${port}\\s.*pid=${process.pid}`), 'ss inside the namespace shows the connection');
  t.equal(await exchange(client, 'hello'), 'A:hello', 'data round trip');

  const listening = await inNetns(A, 'ss', ['-tlnpH', `sport = :${port}`]);
  t.match(listening.stdout, `pid=${process.pid}`, 'ss -tlnp inside the namespace shows the listener');
  const onHost = await exec('ss', ['-tlnpH', `sport = :${port}`]);
  t.notMatch(onHost.stdout, `pid=${process.pid}`, 'the host namespace has no such listener of ours');

  const fd = openNetns(pathA);
  t.teardown(() => closeFd(fd));
  const v6 = serve(await listenInNetns(fd, '::1', 0, { reusePort: true, backlog: 16 }), 'A6');
  t.teardown(() => closeServer(v6));
  const c6 = await connectInNetns(fd, '::1', (v6.address() as net.AddressInfo).port, { timeoutMs: 5000 });
  t.equal(c6.remoteFamily, 'IPv6');
  t.equal(await exchange(c6, 'six'), 'A6:six', 'IPv6 through a held netns fd');
  stillHome(t);
});

t.test('getOriginalDst recovers the address before REDIRECT', async (t) => {
  const seen: Seen[] = [];
  const v4 = serve(await listenInNetns(pathA, '0.0.0.0', 15001), 'redir', seen, true);
  const dual = serve(await listenInNetns(pathA, '::', 15002), 'dual', seen, true);
  t.teardown(() => Promise.all([closeServer(v4), closeServer(dual)]));

  const cases: Array<[string, string, string, number]> = [
    ['IPv4 listener', '1.2.3.4', 'redir', 4],
    ['dual-stack listener, IPv4 client', '1.2.3.5', 'dual', 4],
    ['dual-stack listener, IPv6 client', '2001:db8::1234', 'dual', 6],
  ];
  for (const [name, ip, tag, family] of cases) {
    const c = await connectInNetns(pathA, ip, 80, { timeoutMs: 5000 });
    t.equal(await exchange(c, 'x'), `${tag}:x`, `${name}: redirected to the local listener`);
    t.same(seen.at(-1)?.originalDst, { address: ip, port: 80, family }, `${name}: original destination`);
  }
  // Pitfall 8: a connection that was not redirected reports the listener's own address.
  const direct = await connectInNetns(pathA, '127.0.0.1', 15001);
  t.equal(await exchange(direct, 'y'), 'redir:y');
  t.same(seen.at(-1)?.originalDst, { address: '127.0.0.1', port: 15001, family: 4 });
  stillHome(t);
});

t.test('a socket marked 0x539 bypasses the REDIRECT and reaches the real target', async (t) => {
  const seen: Seen[] = [];
  const real = serve(await listenInNetns(pathB, '1.2.3.4', 80), 'B', seen);
  const capture = serve(await listenInNetns(pathA, '0.0.0.0', 15001, { mark: 0x539 }), 'capture');
  t.teardown(() => Promise.all([closeServer(real), closeServer(capture)]));

  const marked = await connectInNetns(pathA, '1.2.3.4', 80, { mark: 0x539, timeoutMs: 5000 });
  t.equal(await exchange(marked, 'm'), 'B:m', 'the marked socket reached namespace B');
  t.equal(seen[0]?.remoteAddress, '10.77.0.1', 'over the veth, from A');
  const unmarked = await connectInNetns(pathA, '1.2.3.4', 80, { mark: 0x538, timeoutMs: 5000 });
  t.equal(await exchange(unmarked, 'u'), 'capture:u', 'a socket with another mark is captured');

  setMark(capture, 0x539);
  setTransparent(capture);
  t.throws(() => setMark(new net.Socket(), 1), /no file descriptor/, 'a socket without an fd is refused clearly');
  stillHome(t);
});

t.test('errors carry errno codes and leave the thread in its namespace', async (t) => {
  const refused = await connectInNetns(pathA, '127.0.0.1', 1).catch((e: unknown) => e);
  t.ok(refused instanceof NativeError);
  t.match(refused, { code: 'ECONNREFUSED', errno: 111, syscall: 'connect' });
  t.match((refused as Error).message, `connect to 127.0.0.1:1 in ${pathA}`);

  const missing = `/var/run/netns/${A}-missing`;
  const noNs = await listenInNetns(missing, '0.0.0.0', 0).catch((e: unknown) => e);
  t.match(noNs, { code: 'ENOENT', syscall: 'open' });
  t.match((noNs as Error).message, new RegExp(`${missing}.*no such network namespace`));
  t.throws(() => openNetns(missing), { code: 'ENOENT' });
  t.throws(() => openNetns('/etc/hostname'), { code: 'EINVAL', message: /not a network namespace/ });

  t.throws(() => listenFdInNetns(pathA, '10.99.0.1', 0), { code: 'EADDRNOTAVAIL', syscall: 'bind', message: /transparent: true/ });
  const foreign = listenFdInNetns(pathA, '10.99.0.1', 0, { transparent: true });
  closeFd(foreign);
  t.throws(() => listenFdInNetns(pathA, 'fd99::1', 0), { code: 'EADDRNOTAVAIL' });
  closeFd(listenFdInNetns(pathA, 'fd99::1', 0, { transparent: true }));
  await t.rejects(connectInNetns(pathA, '10.77.0.2', 80, { localAddress: '10.99.0.1' }), { code: 'EADDRNOTAVAIL' });
  await t.rejects(connectInNetns(pathA, '10.77.0.2', 81, { timeoutMs: 300 }), { code: 'ETIMEDOUT', errno: 110 });
  t.throws(() => listenFdInNetns(pathA, 'localhost', 0), TypeError);
  await t.rejects(connectInNetns(pathA, '::1', 80, { localAddress: '127.0.0.1' }), /not an IPv6 address/);
  t.throws(() => closeFd(1 << 30), { code: 'EBADF' });

  // A plain host listener still binds in the host's namespace.
  const host = await listenInNetns(null, '127.0.0.1', 0);
  const hostPort = (host.address() as net.AddressInfo).port;
  const ss = await inNetns(A, 'ss', ['-tlnH', `sport = :${hostPort}`]);
  t.equal(ss.stdout.trim(), '', 'the host listener is not in namespace A');
  await closeServer(host);
  stillHome(t);
});

t.test('IP_TRANSPARENT: connect to the local app from a spoofed client address', async (t) => {
  const seen: Seen[] = [];
  const app = serve(await listenInNetns(pathA, '10.77.0.1', 8080), 'app', seen);
  t.teardown(() => closeServer(app));
  const c = await connectInNetns(pathA, '10.77.0.1', 8080, {
    mark: 0x539,
    transparent: true,
    localAddress: '10.99.0.9',
    timeoutMs: 5000,
  });
  t.equal(await exchange(c, 's'), 'app:s');
  t.equal(seen[0]?.remoteAddress, '10.99.0.9', 'the app saw the spoofed client address');
  stillHome(t);
});

t.test('TLS server and client on netns sockets (the fd route)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-native-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=ambit-test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')]);
  const cert = readFileSync(path.join(dir, 'cert.pem'));
  const key = readFileSync(path.join(dir, 'key.pem'));

  const server = tls.createServer({ cert, key, allowHalfOpen: true }, (s) => {
    s.on('data', (d: Buffer) => s.write(`tls:${d.toString()}`));
    s.on('end', () => s.end());
  });
  const fd = listenFdInNetns(pathA, '127.0.0.1', 0);
  await new Promise<void>((r) => server.listen({ fd }, r));
  t.teardown(() => closeServer(server));
  t.equal(socketFd(server), fd);
  const { port } = server.address() as net.AddressInfo;

  // tls.connect wraps a socket that is still connecting, as http2's createConnection needs.
  const raw = startConnectInNetns(pathA, '127.0.0.1', port, { mark: 0x539 });
  t.ok(raw.connecting, 'returned while connecting');
  const c = tls.connect({ socket: raw, ca: cert, servername: 'ambit-test', checkServerIdentity: () => undefined });
  await once(c, 'secureConnect');
  t.equal(await exchange(c, 'z'), 'tls:z');
  stillHome(t);
});

t.test('micro-benchmark: listenInNetns + close', async (t) => {
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
  const raw: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = process.hrtime.bigint();
    closeFd(listenFdInNetns(pathA, '127.0.0.1', 0));
    raw.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  for (let i = 0; i < 1000; i++) {
    const t0 = process.hrtime.bigint();
    await closeServer(await listenInNetns(pathA, '127.0.0.1', 0));
    full.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  t.comment(`listenFdInNetns + closeFd: median ${median(raw).toFixed(1)} µs; listenInNetns + server.close: median ${median(full).toFixed(1)} µs`);
  t.ok(median(full) < 5000, 'well under 5 ms per listener');
});
