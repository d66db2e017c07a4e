// TLS details: version, suites, ALPN, no SNI, no resumption, and the identity checks.
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { pino } from 'pino';
import t from 'tap';
import { dial } from './client.js';
import { HboneServer } from './server.js';
import { checkClientIdentity, checkServerIdentity, peerUriSans, serverTlsOptions, TlsContextCache, validateCredentials } from './tls.js';
import { createTestPki } from './testkit.js';

const SERVER_ID = 'spiffe://cluster.local/ns/demo/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';

t.test('identity checks', async (t) => {
  const cases: Array<[string, string[], { ok: true; identity: string } | RegExp]> = [
    ['one SPIFFE id in the trust domain', [CLIENT_ID], { ok: true, identity: CLIENT_ID }],
    ['no URI SAN', [], /^client certificate has no URI SAN; an HBONE client must present one SPIFFE id$/],
    ['two URI SANs, the first foreign', ['spiffe://other.example/ns/a/sa/b', CLIENT_ID], /^client certificate has 2 URI SANs \(spiffe:\/\/other\.example\/ns\/a\/sa\/b, spiffe:\/\/cluster\.local\/ns\/demo\/sa\/client\); an HBONE client must present exactly one SPIFFE id$/],
    ['two URI SANs, both ours', [CLIENT_ID, 'spiffe://cluster.local/ns/admin/sa/root'], /has 2 URI SANs/],
    ['the same URI twice', [CLIENT_ID, CLIENT_ID], /has 2 URI SANs/],
    ['a non-SPIFFE URI', ['https://cluster.local/ns/demo/sa/client'], /URI SAN "https:\/\/cluster\.local\/ns\/demo\/sa\/client" is not a SPIFFE workload identity/],
    ['a SPIFFE id not in Istio shape', ['spiffe://cluster.local/workload/x'], /not a SPIFFE workload identity \(spiffe:\/\/<trust domain>\/ns\/<namespace>\/sa\/<service account>\)$/],
    ['a foreign trust domain', ['spiffe://other.example/ns/demo/sa/client'], /^client identity spiffe:\/\/other\.example\/ns\/demo\/sa\/client is in trust domain "other\.example", not in "cluster\.local"$/],
    ['a trust domain that only starts like ours', ['spiffe://cluster.local.evil/ns/demo/sa/client'], /in trust domain "cluster\.local\.evil"/],
  ];
  for (const [what, uris, want] of cases) {
    const v = checkClientIdentity(uris, 'cluster.local');
    if (want instanceof RegExp) t.match(v, { ok: false, reason: want }, what);
    else t.same(v, want, what);
  }
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

t.test('the server refuses client certificates whose URI SANs are not one SPIFFE id of its trust domain', async (t) => {
  const pki = await createTestPki();
  const serverCreds = await pki.issue(SERVER_ID);
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const server = new HboneServer({ credentials: () => serverCreds, onConnect: async () => ({ status: 503, reason: 'not used' }), logger });
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => server.close());
  // Every certificate is signed by the server's own CA: only the identity check can refuse.
  const cases: Array<[string, string, string[], RegExp]> = [
    ['a second SPIFFE id', CLIENT_ID, ['spiffe://cluster.local/ns/admin/sa/root'], /has 2 URI SANs/],
    ['a second, foreign SPIFFE id', 'spiffe://other.example/ns/demo/sa/client', [CLIENT_ID], /has 2 URI SANs/],
    ['a non-SPIFFE URI', 'https://example.com/client', [], /URI SAN "https:\/\/example\.com\/client" is not a SPIFFE workload identity/],
    ['a foreign trust domain', 'spiffe://other.example/ns/demo/sa/client', [], /is in trust domain "other\.example", not in "cluster\.local"/],
  ];
  for (const [what, first, extraUris, reason] of cases) {
    const creds = await pki.issue(first, { extraUris });
    const before = server.stats().peerRefusals;
    // A plain TLS client: lib/hbone's own refuses to present a certificate without a SPIFFE id.
    const s = tls.connect({ host: '127.0.0.1', port, cert: creds.certChainPem.join(''), key: creds.keyPem, ca: creds.rootsPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    s.on('error', () => {});
    await once(s, 'secureConnect');
    await once(s, 'close');
    t.pass(`${what}: the server closed the connection after the handshake`);
    t.equal(server.stats().peerRefusals, before + 1, `${what}: counted as a peer refusal`);
    const line = lines.map((l) => JSON.parse(l) as { msg: string; reason?: string }).filter((l) => l.msg === 'HBONE connection refused').at(-1);
    t.match(line?.reason, reason, `${what}: the log says why`);
  }
  const good = await dial({ host: '127.0.0.1', port, credentials: await pki.issue(CLIENT_ID), expectedIdentities: [SERVER_ID] });
  t.ok(good, 'one SPIFFE id of the trust domain is accepted');
  good.session.destroy();
});
