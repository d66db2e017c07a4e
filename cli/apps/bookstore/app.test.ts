// The bookstore services on loopback: productpage → details + reviews → ratings, answers nested,
// request headers propagated, a failing or missing downstream shown in the answer.
import http from 'node:http';
import t from 'tap';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { answer, forwardedHeaders, parseCall, parseField, startBookstore, type BookstoreConfig } from './app.js';

const base = (service: string, over: Partial<BookstoreConfig> = {}): BookstoreConfig => ({ service, version: 'v1', pod: `${service}-pod`, namespace: 'bookinfo', port: 0, host: '127.0.0.1', calls: [], fields: {}, timeoutMs: 2000, ...over });

t.test('flags: --call NAME=URL and --field KEY=VALUE', async (t) => {
  t.same(parseCall('ratings=http://ratings:9080/ratings'), { name: 'ratings', url: 'http://ratings:9080/ratings' });
  t.throws(() => parseCall('http://x/'), /not NAME=URL/);
  t.throws(() => parseCall('r=not a url'), /--call r: "not a url" is not a URL/);
  t.throws(() => parseCall('r=https://x/'), /only http:/);
  t.same(parseField('stars=red'), ['stars', 'red']);
  t.throws(() => parseField('=x'), /not KEY=VALUE/);
});

t.test('answer: own fields, downstream bodies nested, failures kept with their status', async (t) => {
  const cfg = { service: 'reviews', version: 'v3', pod: 'p', namespace: 'bookinfo', fields: { stars: 'red' } };
  t.same(answer(cfg, [['ratings', { status: 200, body: { stars: 5 } }]]), { service: 'reviews', version: 'v3', pod: 'p', namespace: 'bookinfo', stars: 'red', ratings: { stars: 5 } });
  t.same(answer(cfg, [['ratings', { status: 503, error: 'fault filter abort' }]]).ratings, { status: 503, error: 'fault filter abort' });
  t.same(forwardedHeaders({ traceparent: '00-a-b-01', 'x-request-id': 'r', host: 'h', 'end-user': 'jason' }), { 'x-request-id': 'r', traceparent: '00-a-b-01', 'end-user': 'jason' });
});

t.test('a chain of services on loopback', async (t) => {
  const seen: http.IncomingHttpHeaders[] = [];
  // A stand-in for ratings that records what reached it and fails when asked.
  const ratings = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers['end-user'] === 'fail') return void res.writeHead(503).end('fault filter abort');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ service: 'ratings', stars: 4 }));
  });
  await new Promise<void>((r) => ratings.listen(0, '127.0.0.1', r));
  const rport = (ratings.address() as { port: number }).port;
  const reviews = await startBookstore(base('reviews', { version: 'v2', fields: { stars: 'black' }, calls: [{ name: 'ratings', url: `http://127.0.0.1:${rport}/ratings` }] }), silentLogger());
  const details = await startBookstore(base('details', { fields: { isbn: '0486424618' } }), silentLogger());
  const page = await startBookstore(
    base('productpage', {
      calls: [
        { name: 'details', url: `http://127.0.0.1:${details.port}/details` },
        { name: 'reviews', url: `http://127.0.0.1:${reviews.port}/reviews` },
        { name: 'missing', url: 'http://127.0.0.1:1/' },
      ],
    }),
    silentLogger(),
  );
  t.teardown(async () => {
    await Promise.all([page.close(), details.close(), reviews.close(), new Promise((r) => ratings.close(r))]);
  });
  const get = async (headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${page.port}/productpage`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, Record<string, unknown>> };
  };
  const ok = await get({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'x-request-id': 'req-1' });
  t.equal(ok.status, 200);
  t.equal(ok.body.details!.isbn, '0486424618');
  t.same({ version: ok.body.reviews!.version, stars: ok.body.reviews!.stars, ratings: ok.body.reviews!.ratings }, { version: 'v2', stars: 'black', ratings: { service: 'ratings', stars: 4 } });
  t.equal(ok.body.missing!.status, 0, 'an unreachable downstream: status 0');
  t.match(String(ok.body.missing!.error), /127\.0\.0\.1:1/);
  t.equal(seen[0]!.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'traceparent reaches the second hop');
  t.equal(seen[0]!['x-request-id'], 'req-1');
  const failed = await get({ 'end-user': 'fail' });
  t.equal(failed.status, 200, 'the page still answers');
  t.same(failed.body.reviews!.ratings, { status: 503, error: 'fault filter abort' }, 'the failed call is in the answer');
  const health = await fetch(`http://127.0.0.1:${page.port}/healthz`);
  t.equal(health.status, 200);
});
