import t from 'tap';
import { parseDuration } from '../../../lib/config/duration.js';
import { applyDefaults, parsePortFlag, resolveServerConfig } from './config.js';
import { parseTarget } from './target.js';
import {
  buildEchoText,
  canonicalHeaderName,
  echoField,
  grpcPeerAddress,
  parseControls,
  parseEchoText,
  parseHeaderList,
  plainAddress,
} from './text.js';

t.test('canonical header names', async (t) => {
  const table: Array<[string, string]> = [
    ['x-request-id', 'X-Request-Id'],
    ['USER-AGENT', 'User-Agent'],
    ['host', 'Host'],
    ['x--y', 'X--Y'],
  ];
  for (const [input, want] of table) t.equal(canonicalHeaderName(input), want, input);
});

t.test('build then parse round-trips, header lines sorted and repeated', async (t) => {
  const text = buildEchoText({
    serviceVersion: 'v2',
    servicePort: 8080,
    host: 'echo.ns:8080',
    hostname: 'echo-v2-abc',
    namespace: 'ns',
    ip: '10.244.1.5',
    method: 'GET',
    url: '/a?b=c=d',
    proto: 'HTTP/1.1',
    statusCode: 200,
    cluster: 'c1',
    requestHeaders: [
      ['x-b', '2'],
      ['X-A', 'one'],
      ['x-b', '3'],
    ],
    responseHeaders: [['x-r', 'v:w']],
  });
  t.match(text, /^ServiceVersion=v2\nServicePort=8080\n/);
  t.ok(text.indexOf('RequestHeader=X-A:one') < text.indexOf('RequestHeader=X-B:2'));
  t.ok(text.indexOf('RequestHeader=X-B:2') < text.indexOf('RequestHeader=X-B:3'));
  const p = parseEchoText(text + 'xxxxxxxx');
  t.same(p.fields, {
    ServiceVersion: 'v2',
    ServicePort: '8080',
    Host: 'echo.ns:8080',
    Hostname: 'echo-v2-abc',
    Namespace: 'ns',
    IP: '10.244.1.5',
    Method: 'GET',
    URL: '/a?b=c=d',
    Proto: 'HTTP/1.1',
    StatusCode: '200',
    Cluster: 'c1',
  });
  t.same(p.requestHeaders, { 'x-a': ['one'], 'x-b': ['2', '3'] });
  t.same(p.responseHeaders, { 'x-r': ['v:w'] });
  t.notMatch(buildEchoText({ ...minimalFacts(), cluster: '' }), /Cluster=/);
});

t.test('echoField finds first, middle and last lines', async (t) => {
  const text = 'A=1\nHostname=pod-1\nServiceVersion=v3';
  t.equal(echoField(text, 'A'), '1');
  t.equal(echoField(text, 'Hostname'), 'pod-1');
  t.equal(echoField(text, 'ServiceVersion'), 'v3');
  t.equal(echoField(text, 'Missing'), undefined);
  t.equal(echoField('XHostname=no\n', 'Hostname'), undefined);
});

t.test('durations', async (t) => {
  const table: Array<[string, number]> = [
    ['250ms', 250],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ];
  for (const [input, want] of table) t.equal(parseDuration(input, 'd'), want, input);
  for (const bad of ['', 'abc', '-1s', '250']) t.throws(() => parseDuration(bad, '--duration'), /--duration: .* is not a duration/, bad);
});

t.test('controls from query, then headers; errors name the control', async (t) => {
  const none = (): undefined => undefined;
  t.same(parseControls(new URLSearchParams(''), none), { status: 200, delayMs: 0, size: 0, headers: [] });
  t.same(parseControls(new URLSearchParams('status=503&delay=250ms&size=10&headers=a:b,c:d:e'), none), {
    status: 503,
    delayMs: 250,
    size: 10,
    headers: [
      ['a', 'b'],
      ['c', 'd:e'],
    ],
  });
  const hdrs: Record<string, string> = { 'x-echo-status': '418', 'x-echo-size': '3' };
  t.same(parseControls(new URLSearchParams('size=5'), (n) => hdrs[n]), { status: 418, delayMs: 0, size: 5, headers: [] });
  const bad: Array<[string, RegExp]> = [
    ['status=99', /\?status: '99'/],
    ['status=abc', /\?status/],
    ['delay=soon', /\?delay/],
    ['delay=10m', /limit/],
    ['size=-1', /\?size/],
    ['headers=novalue', /\?headers/],
    ['headers=bad name:v', /\?headers/],
  ];
  for (const [q, re] of bad) t.throws(() => parseControls(new URLSearchParams(q), none), re, q);
  t.throws(() => parseControls(new URLSearchParams(''), () => 'x'), /x-echo-status/);
  t.same(parseHeaderList('a:1,,b:2', 'h'), [
    ['a', '1'],
    ['b', '2'],
  ]);
});

t.test('addresses', async (t) => {
  t.equal(plainAddress('::ffff:10.1.2.3'), '10.1.2.3');
  t.equal(plainAddress('::1'), '::1');
  t.equal(plainAddress(undefined), '');
  const peers: Array<[string, string]> = [
    ['ipv4:127.0.0.1:5000', '127.0.0.1'],
    ['127.0.0.1:5000', '127.0.0.1'],
    ['ipv6:[::1]:5000', '::1'],
    ['[::ffff:10.0.0.1]:1', '10.0.0.1'],
  ];
  for (const [p, want] of peers) t.equal(grpcPeerAddress(p), want, p);
});

t.test('targets', async (t) => {
  t.match(parseTarget('http://127.0.0.1:8080/a?b=1'), { protocol: 'http', host: '127.0.0.1', port: 8080, path: '/a?b=1', authority: '127.0.0.1:8080' });
  t.match(parseTarget('h2c://echo'), { protocol: 'h2c', port: 80, path: '/' });
  t.match(parseTarget('grpc://[::1]:7070'), { protocol: 'grpc', host: '::1', authority: '[::1]:7070' });
  t.match(parseTarget('tcp://h:9'), { protocol: 'tcp', port: 9 });
  t.throws(() => parseTarget('ftp://h:1'), /scheme 'ftp'/);
  t.throws(() => parseTarget('grpc://h'), /needs a port/);
  t.throws(() => parseTarget('tcp://h:1/x'), /no path/);
  t.throws(() => parseTarget('nonsense'), /not a URL/);
});

t.test('server config: ports, defaults, env fallbacks', async (t) => {
  t.equal(parsePortFlag('off', '--grpc'), -1);
  t.equal(parsePortFlag('0', '--grpc'), 0);
  t.throws(() => parsePortFlag('99999', '--http'), /--http: '99999'/);
  const r = applyDefaults({ httpPort: 0, grpcPort: -1 });
  t.equal(r.httpPort, 0);
  t.equal(r.grpcPort, undefined);
  t.equal(r.tcpPort, undefined);
  t.equal(r.version, 'v1');
  t.equal(r.namespace, 'default');
  t.throws(() => applyDefaults({}), /every listener is off/);
  t.throws(() => applyDefaults({ tcpPort: 1.5 }), /tcpPort 1.5/);
  const env = { POD_NAME: 'p', POD_NAMESPACE: 'n', VERSION: 'v9', CLUSTER: 'c' };
  t.match(resolveServerConfig({ http: '8080', grpc: 'off', tcp: '-1' }, env), { httpPort: 8080, grpcPort: -1, tcpPort: -1, name: 'p', namespace: 'n', version: 'v9', cluster: 'c' });
  t.match(resolveServerConfig({ http: '1', grpc: '2', tcp: '3', name: 'flag', version: 'v1' }, { ...env, SERVICE_VERSION: 'v5' }), { name: 'flag', version: 'v1' });
  t.match(resolveServerConfig({ http: '1', grpc: '2', tcp: '3' }, { ...env, SERVICE_VERSION: 'v5' }), { version: 'v5' });
});

function minimalFacts(): Parameters<typeof buildEchoText>[0] {
  return { serviceVersion: 'v1', servicePort: 1, host: 'h', hostname: 'n', namespace: 'd', ip: '1.1.1.1', method: 'GET', url: '/', proto: 'HTTP/1.1', statusCode: 200, requestHeaders: [] };
}
