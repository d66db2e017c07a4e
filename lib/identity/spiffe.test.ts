import t from 'tap';
import { IdentityError } from './errors.js';
import { formatSpiffeId, parseSpiffeId, spiffeId, trustDomainOf, tryParseSpiffeId } from './spiffe.js';

t.test('parses valid ids', async (t) => {
  const cases: Array<[string, string, string, string]> = [
    ['spiffe://cluster.local/ns/default/sa/default', 'cluster.local', 'default', 'default'],
    ['spiffe://cluster.local/ns/demo/sa/backend', 'cluster.local', 'demo', 'backend'],
    ['spiffe://my_td-1.example/ns/a-b/sa/svc.acct-2', 'my_td-1.example', 'a-b', 'svc.acct-2'],
    ['spiffe://td/ns/x/sa/y', 'td', 'x', 'y'],
  ];
  for (const [uri, td, ns, sa] of cases) {
    t.same(parseSpiffeId(uri), { trustDomain: td, namespace: ns, serviceAccount: sa, uri }, uri);
  }
});

t.test('rejects invalid ids naming the part', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['http://cluster.local/ns/a/sa/b', /scheme must be "spiffe:\/\/"/],
    ['SPIFFE://cluster.local/ns/a/sa/b', /scheme/],
    ['spiffe:///ns/a/sa/b', /trust domain is empty/],
    ['spiffe://Cluster.Local/ns/a/sa/b', /trust domain "Cluster.Local"/],
    ['spiffe://cluster.local', /path must be/],
    ['spiffe://cluster.local/', /path must be/],
    ['spiffe://cluster.local/ns/a/sa/b/', /path must be/],
    ['spiffe://cluster.local/ns/a/sa', /path must be/],
    ['spiffe://cluster.local/namespace/a/sa/b', /first path segment must be "ns", got "namespace"/],
    ['spiffe://cluster.local/ns/a/serviceaccount/b', /third path segment must be "sa"/],
    ['spiffe://cluster.local/ns//sa/b', /namespace is empty/],
    ['spiffe://cluster.local/ns/Demo/sa/b', /namespace "Demo" is not a valid/],
    ['spiffe://cluster.local/ns/a.b/sa/b', /namespace "a.b"/],
    [`spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/b`, /namespace/],
    ['spiffe://cluster.local/ns/a/sa/', /service account is empty/],
    ['spiffe://cluster.local/ns/a/sa/-bad', /service account "-bad"/],
    ['spiffe://cluster.local/ns/a/sa/b?x=1', /query, fragment/],
    ['spiffe://cluster.local/ns/a/sa/b%20', /percent/],
  ];
  for (const [uri, re] of cases) {
    t.throws(() => parseSpiffeId(uri), re, JSON.stringify(uri));
    try {
      parseSpiffeId(uri);
    } catch (e) {
      t.ok(e instanceof IdentityError && e.code === 'SPIFFE_INVALID', `code for ${uri}`);
    }
    t.equal(tryParseSpiffeId(uri), undefined);
  }
});

t.test('formats and round-trips', async (t) => {
  const uri = formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'web' });
  t.equal(uri, 'spiffe://cluster.local/ns/demo/sa/web');
  t.same(parseSpiffeId(uri), spiffeId('cluster.local', 'demo', 'web'));
  t.throws(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'Demo', serviceAccount: 'web' }), /namespace "Demo"/);
  t.throws(() => formatSpiffeId({ trustDomain: 'a b', namespace: 'demo', serviceAccount: 'web' }), /trust domain "a b"/);
  t.equal(trustDomainOf('spiffe://example.org/anything'), 'example.org');
  t.equal(trustDomainOf('https://x'), undefined);
});
