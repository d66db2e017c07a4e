import t from 'tap';
import { detectProtocol, H2_PREFACE } from './sniff.js';
import { forwardable } from './hop-by-hop.js';
import { httpToGrpcStatus, localReply } from './local-reply.js';
import { sourceIpOf } from './listener.js';

t.test('protocol detection', async (t) => {
  const rows: Array<[string | Buffer, string | undefined]> = [
    [H2_PREFACE, 'h2'],
    [Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])]), 'h2'],
    [H2_PREFACE.subarray(0, 10), undefined],
    ['GET / HTTP/1.1\r\n', 'http1'],
    ['POST /x HTTP/1.1\r\n', 'http1'],
    ['GE', undefined],
    ['P', undefined],
    ['PRX', 'tcp'],
    ['\x16\x03\x01\x00', 'tcp'],
    ['SSH-2.0-OpenSSH', 'tcp'],
    ['get / HTTP/1.1', 'tcp'],
    ['', undefined],
  ];
  for (const [input, want] of rows) t.equal(detectProtocol(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1')), want, JSON.stringify(input.toString()));
});

t.test('hop-by-hop headers are not forwarded', async (t) => {
  t.same(forwardable({ ':path': '/', host: 'a', connection: 'keep-alive, x-drop', 'keep-alive': '5', 'x-drop': '1', 'transfer-encoding': 'chunked', te: 'trailers', 'x-keep': 'y' }), { 'x-keep': 'y', te: 'trailers' });
  t.same(forwardable({ te: 'gzip' }), {});
});

t.test('local replies for gRPC requests carry grpc-status in a 200', async (t) => {
  t.same(localReply(503, 'no healthy upstream', { grpc: false }), { status: 503, headers: { 'content-type': 'text/plain' }, body: 'no healthy upstream' });
  const g = localReply(503, 'no healthy upstream', { grpc: true });
  t.equal(g.status, 200);
  t.equal(g.headers['grpc-status'], '14');
  t.equal(g.headers['grpc-message'], 'no%20healthy%20upstream');
  t.equal(localReply(500, 'fault', { grpc: true, grpcStatus: 9 }).grpcStatus, 9);
  t.same([400, 401, 403, 404, 429, 500].map(httpToGrpcStatus), [13, 16, 7, 12, 14, 2]);
});

t.test('the source IP comes from forwarded when present', async (t) => {
  const peer = { address: '10.0.0.9', port: 1234, family: 4 as const };
  t.equal(sourceIpOf('for=10.1.2.3', peer), '10.1.2.3');
  t.equal(sourceIpOf('for="[fd00::1]:80"', peer), 'fd00::1');
  t.equal(sourceIpOf(undefined, peer), '10.0.0.9');
});
