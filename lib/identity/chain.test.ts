import t from 'tap';
import { createIntermediateCertificate, createLeafCertificate, createRootCertificate, type Issuer } from './certgen.js';
import { firstUriSan, identityFromPeerCertificate, parseCertificate, parseCertificateChain, splitCertChainResponse, spiffeIdOf, verifyChain } from './chain.js';
import { IdentityError } from './errors.js';
import { algorithmsFor, generateKeyPair } from './keys.js';
import { joinPem } from './pem.js';
import { patchPemBytes } from './testkit.js';

const DAY = 86_400_000;
const now = Date.now();
const ID = 'spiffe://cluster.local/ns/demo/sa/web';
const sign = algorithmsFor('ec-p256').sign;
const pem = (i: Issuer): string => i.certificate.toString('pem');

async function root(subject: string, from = now - DAY, to = now + 3650 * DAY): Promise<Issuer> {
  const keys = await generateKeyPair();
  const certificate = await createRootCertificate({ subject, keys, signingAlgorithm: sign, notBefore: new Date(from), notAfter: new Date(to) });
  return { certificate, privateKey: keys.privateKey, signingAlgorithm: sign };
}

async function intermediate(subject: string, issuer: Issuer, opts: { from?: number; to?: number; pathLength?: number } = {}): Promise<Issuer> {
  const keys = await generateKeyPair();
  const certificate = await createIntermediateCertificate({
    subject,
    publicKey: keys.publicKey,
    issuer,
    notBefore: new Date(opts.from ?? now - DAY),
    notAfter: new Date(opts.to ?? now + 365 * DAY),
    ...(opts.pathLength !== undefined ? { pathLength: opts.pathLength } : {}),
  });
  return { certificate, privateKey: keys.privateKey, signingAlgorithm: sign };
}

async function leafIssuer(issuer: Issuer, from = now - 60_000, to = now + DAY, uri = ID): Promise<Issuer> {
  const keys = await generateKeyPair();
  const certificate = await createLeafCertificate({ publicKey: keys.publicKey, uris: [uri], issuer, notBefore: new Date(from), notAfter: new Date(to) });
  return { certificate, privateKey: keys.privateKey, signingAlgorithm: sign };
}

async function leaf(issuer: Issuer, from = now - 60_000, to = now + DAY, uri = ID): Promise<string> {
  return pem(await leafIssuer(issuer, from, to, uri));
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof IdentityError ? e.code : `not an IdentityError: ${String(e)}`;
  }
  return undefined;
}

t.test('chain verification table', async (t) => {
  const r = await root('O=cluster.local');
  const other = await root('O=other');
  const impostor = await root('O=cluster.local'); // same name, different key
  const inter = await intermediate('O=cluster.local, CN=intermediate', r);
  const inter0 = await intermediate('CN=int-pathlen-0', r, { pathLength: 0 });
  const below0 = await intermediate('CN=below-pathlen-0', inter0);
  const oldInter = await intermediate('CN=expired-int', r, { from: now - 10 * DAY, to: now - DAY });
  const good = await leaf(inter);
  const direct = await leaf(r);
  const expired = await leaf(inter, now - 3 * DAY, now - DAY);
  const future = await leaf(inter, now + DAY, now + 2 * DAY);
  const fakeIssuer = await leafIssuer(r);

  const cases: Array<[string, () => Promise<string>, string[], string[], string | undefined, Date?]> = [
    ['leaf → intermediate → root', async () => good, [pem(inter)], [pem(r)], undefined],
    ['leaf → root', async () => direct, [], [pem(r)], undefined],
    ['root among several roots', async () => good, [pem(inter)], [pem(other), pem(r)], undefined],
    ['expired leaf', async () => expired, [pem(inter)], [pem(r)], 'CHAIN_EXPIRED'],
    ['leaf checked in the future', async () => good, [pem(inter)], [pem(r)], 'CHAIN_EXPIRED', new Date(now + 2 * DAY)],
    ['not yet valid', async () => future, [pem(inter)], [pem(r)], 'CHAIN_NOT_YET_VALID'],
    ['wrong root', async () => good, [pem(inter)], [pem(other)], 'CHAIN_UNKNOWN_ISSUER'],
    ['missing intermediate', async () => good, [], [pem(r)], 'CHAIN_UNKNOWN_ISSUER'],
    ['impostor root (same name, other key)', async () => direct, [], [pem(impostor)], 'CHAIN_BAD_SIGNATURE'],
    ['tampered leaf', async () => patchPemBytes(good, 'sa/web', 'sa/wex'), [pem(inter)], [pem(r)], 'CHAIN_BAD_SIGNATURE'],
    ['expired intermediate', async () => leaf(oldInter, now - 2 * DAY, now + DAY), [pem(oldInter)], [pem(r)], 'CHAIN_EXPIRED'],
    ['issuer not a CA', async () => leaf(fakeIssuer), [pem(fakeIssuer)], [pem(r)], 'CHAIN_NOT_CA'],
    ['path length exceeded', async () => leaf(below0), [pem(below0), pem(inter0)], [pem(r)], 'CHAIN_TOO_LONG'],
  ];
  for (const [name, make, inters, roots, code, at] of cases) {
    const l = await make();
    try {
      const path = await verifyChain(l, { intermediates: inters, roots, ...(at ? { at } : {}) });
      t.equal(code, undefined, `${name}: verified`);
      t.equal(path[0]!.uris[0], ID, `${name}: path starts at the leaf`);
      t.ok(path[path.length - 1]!.isCa, `${name}: path ends at a CA`);
    } catch (e) {
      t.ok(e instanceof IdentityError, `${name}: typed error (${(e as Error).message})`);
      t.equal((e as IdentityError).code, code, `${name}: ${(e as Error).message}`);
    }
  }
  const path = await verifyChain(good, { intermediates: [pem(inter)], roots: joinPem([pem(other), pem(r)]) });
  t.same(path.map((c) => c.subject), ['', 'O=cluster.local, CN=intermediate', 'O=cluster.local']);
});

t.test('parse, identity and response splitting', async (t) => {
  const r = await root('O=cluster.local');
  const inter = await intermediate('CN=int', r);
  const l = await leaf(inter);
  const c = parseCertificate(l);
  t.equal(c.subject, '');
  t.equal(c.issuer, 'CN=int');
  t.equal(c.isCa, false);
  t.ok(c.notBefore.getTime() <= now && c.notAfter.getTime() > now);
  t.equal(firstUriSan(l), ID);
  t.equal(spiffeIdOf(c).serviceAccount, 'web');
  t.equal(parseCertificateChain(joinPem([l, pem(inter)])).length, 2);
  t.throws(() => parseCertificateChain(''), /holds no PEM certificate/);
  t.throws(() => parseCertificate(joinPem([l, l])), /exactly one PEM certificate, found 2/);

  const resp = [l, pem(inter), joinPem([pem(r), pem(await root('O=next'))])];
  const split = splitCertChainResponse(resp);
  t.equal(split.leaf.uris[0], ID);
  t.equal(split.intermediates.length, 1);
  t.equal(split.roots.length, 2, 'last element may hold several roots');
  t.throws(() => splitCertChainResponse([l]), /need a leaf and a root/);

  t.equal(identityFromPeerCertificate({ raw: c.der }).uri, ID);
  t.equal(identityFromPeerCertificate({ raw: c.der, subjectaltname: c.node.subjectAltName }).uri, ID, 'from the OpenSSL text');
  t.equal(identityFromPeerCertificate({ raw: c.der, subjectaltname: 'DNS:x, URI:"odd,uri"' }).uri, ID, 'quoted text falls back to DER');
  t.throws(() => identityFromPeerCertificate({}), /peer presented no certificate/);
  t.equal(codeOf(() => identityFromPeerCertificate(null)), 'PEER_NO_CERT');
  const noUri = parseCertificate(pem(r));
  t.throws(() => spiffeIdOf(noUri), /has no URI SAN/);
  const odd = await leaf(inter, now - 1000, now + DAY, 'https://not-spiffe.example/x');
  t.equal(codeOf(() => spiffeIdOf(odd)), 'PEER_NO_SPIFFE');
});
