// TLS details: version, suites, ALPN, no SNI, no resumption, and the identity checks.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import { dial } from './client.js';
import { checkClientIdentity, checkServerIdentity, peerUriSans, serverTlsOptions, TlsContextCache, validateCredentials } from './tls.js';
import { createTestPki } from './testkit.js';

const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';

t.test('identity checks', async (t) => {
  t.same(checkClientIdentity([CLIENT_ID], 'cluster.local'), { ok: true, identity: CLIENT_ID });
  t.same(checkClientIdentity(['spiffe://other.example/x', CLIENT_ID], 'cluster.local'), { ok: false, reason: 'client certificate\'s first URI SAN "spiffe://other.example/x" is not a SPIFFE workload identity' });
  t.match(checkClientIdentity(['spiffe://other.example/ns/a/sa/b'], 'cluster.local'), { ok: false, reason: /not in trust domain "cluster.local"/ });
  t.match(checkClientIdentity([], 'cluster.local'), { ok: false, reason: /no URI SAN/ });
  t.match(checkClientIdentity(['spiffe://cluster.local/workload/x'], 'cluster.local'), { ok: false, reason: /not a SPIFFE workload identity/ });
  t.same(checkServerIdentity(['spiffe://td/ns/a/sa/x', SERVER_ID], [SERVER_ID]), { ok: true, identity: SERVER_ID }, 'any URI SAN may match');
  t.match(checkServerIdentity([SERVER_ID], ['spiffe://cluster.local/ns/demo/sa/other']), { ok: false, reason: /presented .*server; expected one of .*other/ });
  t.match(checkServerIdentity([], [SERVER_ID]), { ok: false, reason: /no URI SAN/ });
  t.same(peerUriSans({ raw: Buffer.from([1]), subjectaltname: `DNS:x, URI:${SERVER_ID}, URI:spiffe://td/ns/a/sa/b` }), [SERVER_ID, 'spiffe://td/ns/a/sa/b']);
  t.same(peerUriSans(undefined), []);
});

t.test('credentials validation and the context cache', async (t) => {
  t.throws(() => validateCredentials(null), { code: 'HBONE_CREDENTIALS' });
  t.throws(() => validateCredentials({ certChainPem: [], keyPem: 'x', rootsPem: ['x'] }), /certChainPem must be a non-empty array/);
  t.throws(() => validateCredentials({ certChainPem: ['nope'], keyPem: 'x', rootsPem: ['x'] }), /certChainPem\[0\] holds no PEM CERTIFICATE/);
  const pki = await createTestPki();
  const c = await pki.issue(SERVER_ID);
  t.throws(() => validateCredentials({ ...c, keyPem: '' }), /keyPem is empty/);
  t.throws(() => validateCredentials({ ...c, rootsPem: [''] }), /rootsPem\[0\] is empty/);
  const cache = new TlsContextCache(2);
  const e1 = cache.entry(c);
  t.equal(e1.identity, SERVER_ID);
  t.equal(e1.trustDomain, 'cluster.local');
  t.equal(cache.entry({ ...c }), e1, 'equal content shares one entry');
  t.equal(e1.clientContext(), e1.clientContext(), 'one SecureContext per certificate');
  const c2 = await pki.issue(SERVER_ID);
  t.not(cache.entry(c2), e1);
  cache.entry(await pki.issue(CLIENT_ID));
  t.equal(cache.size, 2, 'bounded');
  const noSpiffe = await pki.issue('https://example.com/x');
  t.throws(() => cache.entry(noSpiffe), /no SPIFFE URI SAN/);
  t.throws(() => cache.entry({ ...c, keyPem: c2.keyPem }).clientContext(), { code: 'HBONE_CREDENTIALS', message: /key values mismatch/ }, 'a key that does not match the leaf');
});

t.test('handshake: TLS 1.3, AES-GCM, ALPN h2, no SNI, no resumption', async (t) => {
  const pki = await createTestPki({ intermediate: true });
  const serverCreds = await pki.issue(SERVER_ID);
  const clientCreds = await pki.issue(CLIENT_ID);
  const seen: { servername: string | false; cipher: string; version: string | null; alpn: string | false | null; reused: boolean; authorized: boolean }[] = [];
  const srv = tls.createServer(serverTlsOptions(serverCreds, 5_000), (s) => {
    seen.push({ servername: s.servername as string | false, cipher: s.getCipher().name, version: s.getProtocol(), alpn: s.alpnProtocol, reused: s.isSessionReused(), authorized: s.authorized });
    s.on('error', () => {});
    s.end('bye');
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.teardown(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;

  // The HBONE client (dial) against a plain TLS server: the handshake is what matters here.
  await dial({ host: '127.0.0.1', port, credentials: clientCreds, expectedIdentities: [SERVER_ID], connectTimeoutMs: 2_000 }).catch(() => undefined);
  t.equal(seen.length, 1);
  t.same(seen[0], { servername: false, cipher: 'TLS_AES_256_GCM_SHA384', version: 'TLSv1.3', alpn: 'h2', reused: false, authorized: true });

  // A client that tries to resume with a ticket from an earlier handshake gets a full handshake.
  const opts = { host: '127.0.0.1', port, ca: clientCreds.rootsPem, cert: clientCreds.certChainPem.join('\n'), key: clientCreds.keyPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined };
  let ticket: Buffer | undefined;
  const first = tls.connect(opts);
  first.on('session', (s: Buffer) => (ticket ??= s));
  first.resume();
  await once(first, 'close');
  t.ok(ticket, 'OpenSSL still sends a ticket');
  const second = tls.connect({ ...opts, session: ticket! });
  await once(second, 'secureConnect');
  t.equal(second.isSessionReused(), false, 'the server refuses to resume');
  second.destroy();
  await t.rejects(
    new Promise((resolve, reject) => {
      const s = tls.connect({ ...opts, maxVersion: 'TLSv1.2' });
      s.on('secureConnect', resolve);
      s.on('error', reject);
    }),
    'TLS 1.2 is refused',
  );
  await t.rejects(
    new Promise((resolve, reject) => {
      const s = tls.connect({ ...opts, ciphers: 'TLS_CHACHA20_POLY1305_SHA256' });
      s.on('secureConnect', resolve);
      s.on('error', reject);
    }),
    'ChaCha20 is not offered by the server',
  );
});
