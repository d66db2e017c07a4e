import t from 'tap';
import { ZdsError } from './errors.js';
import { encodeFrame, FrameDecoder } from './framing.js';
import { decodeAck, decodeHello, decodeRequest, encodeAck, encodeHello, encodeRequest, ZdsVersion, type ZdsRequest } from './messages.js';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { WorkloadRequestSchema } from '../proto/gen/istio/workload/zds/zds_pb.js';
import { WorkloadRequestAncillarySchema } from '../proto/gen/ambit/zds/zds_ext_pb.js';

const f = (s: string): Buffer => encodeFrame(Buffer.from(s));

t.test('frame decoder: split, coalesced and oversize input', async (t) => {
  const two = Buffer.concat([f('hello'), f(''), f('world!')]);
  type Case = [name: string, chunks: Buffer[], frames: string[], pending: number];
  const cases: Case[] = [
    ['one whole frame', [f('abc')], ['abc'], 0],
    ['three frames in one chunk', [two], ['hello', '', 'world!'], 0],
    ['byte by byte', [...two].map((b) => Buffer.from([b])), ['hello', '', 'world!'], 0],
    ['header split 2+2', [two.subarray(0, 2), two.subarray(2)], ['hello', '', 'world!'], 0],
    ['header split 3+rest, body split', [two.subarray(0, 3), two.subarray(3, 6), two.subarray(6)], ['hello', '', 'world!'], 0],
    ['a frame and a half', [Buffer.concat([f('abc'), f('defgh').subarray(0, 6)])], ['abc'], 6],
    ['empty chunks', [Buffer.alloc(0), f('x'), Buffer.alloc(0)], ['x'], 0],
    ['header only', [Buffer.from([0, 0, 0, 9])], [], 4],
  ];
  for (const [name, chunks, want, pending] of cases) {
    const d = new FrameDecoder(64);
    const got = chunks.flatMap((c) => d.push(c)).map((b) => b.toString());
    t.same(got, want, name);
    t.equal(d.pendingBytes, pending, `${name}: pending bytes`);
  }

  type Bad = [name: string, chunk: Buffer, re: RegExp];
  const bad: Bad[] = [
    ['announced length over the limit', Buffer.from([0, 0, 0, 65]), /65 bytes exceeds the 64-byte limit/],
    ['HTTP garbage', Buffer.from('GET / HTTP/1.1\r\n\r\n'), /exceeds the 64-byte limit/],
    ['oversize frame after a good one', Buffer.concat([f('ok'), Buffer.from([0xff, 0xff, 0xff, 0xff])]), /4294967295 bytes/],
  ];
  for (const [name, chunk, re] of bad) {
    const d = new FrameDecoder(64);
    t.throws(() => d.push(chunk), { code: 'FRAME_TOO_LARGE', message: re }, name);
    t.throws(() => d.push(f('later')), { code: 'FRAME_TOO_LARGE' }, `${name}: decoder stays failed`);
  }
  t.throws(() => encodeFrame(Buffer.alloc(65), 64), ZdsError, 'encoder refuses oversize payloads');
  t.same([...encodeFrame(Buffer.from([7]))], [0, 0, 0, 1, 7], 'big-endian length');
});

t.test('messages round-trip and validation', async (t) => {
  const workload = { uid: 'u1', name: 'a', namespace: 'demo', serviceAccount: 'sa' };
  const good: ZdsRequest[] = [
    { kind: 'add', workload, netnsPath: '/var/run/netns/cni-1' },
    { kind: 'keep', uid: 'u2' },
    { kind: 'del', uid: 'u3' },
    { kind: 'snapshotSent' },
  ];
  for (const r of good) t.same(decodeRequest(encodeRequest(r)), r, `${r.kind} round-trips`);
  t.equal(decodeHello(encodeHello()), ZdsVersion.V1);
  t.equal(decodeAck(encodeAck()), '');
  t.equal(decodeAck(encodeAck('no netns')), 'no netns');

  // The add frame is a valid Istio WorkloadRequest: the path rides as an unknown field.
  const bytes = encodeRequest(good[0]!);
  const plain = toBinary(WorkloadRequestSchema, create(WorkloadRequestSchema, { payload: { case: 'add', value: { uid: 'u1', workloadInfo: { name: 'a', namespace: 'demo', serviceAccount: 'sa' } } } }));
  t.same([...bytes.subarray(0, plain.length)], [...plain], 'Istio message first, unchanged');

  const ext = (path: string): Uint8Array => toBinary(WorkloadRequestAncillarySchema, create(WorkloadRequestAncillarySchema, { netnsPath: path }));
  const req = (payload: MessageInitShape<typeof WorkloadRequestSchema>): Uint8Array => toBinary(WorkloadRequestSchema, create(WorkloadRequestSchema, payload));
  type Bad = [string, Uint8Array, RegExp];
  const bad: Bad[] = [
    ['add without a netns path', req({ payload: { case: 'add', value: { uid: 'u' } } }), /AddWorkload u: netns path is empty/],
    ['add with a relative path', Buffer.concat([req({ payload: { case: 'add', value: { uid: 'u' } } }), ext('netns/x')]), /must be absolute/],
    ['add without uid', Buffer.concat([req({ payload: { case: 'add', value: {} } }), ext('/x')]), /AddWorkload has no uid/],
    ['del with a netns path', Buffer.concat([req({ payload: { case: 'del', value: { uid: 'u' } } }), ext('/x')]), /del carries a netns path; only add may/],
    ['keep without uid', req({ payload: { case: 'keep', value: {} } }), /KeepWorkload has no uid/],
    ['empty request', new Uint8Array(), /no payload/],
    ['not protobuf', Buffer.from([0xff, 0xff, 0xff]), /cannot decode WorkloadRequest/],
  ];
  for (const [name, b, re] of bad) t.throws(() => decodeRequest(b), { code: 'PROTOCOL', message: re }, name);
  t.throws(() => decodeAck(new Uint8Array()), { code: 'PROTOCOL', message: /no ack/ });
});
