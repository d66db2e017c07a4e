// ZDS from the node agent's socket: the length-prefixed framing and the protobuf messages. Bad
// bytes give a ZdsError (the connection is then closed), never another exception.
import fc from 'fast-check';
import t from 'tap';
import { ZdsError } from '../../lib/zds/errors.js';
import { FrameDecoder, encodeFrame } from '../../lib/zds/framing.js';
import { decodeAck, decodeHello, decodeRequest, encodeAck, encodeHello, encodeRequest, type ZdsRequest } from '../../lib/zds/messages.js';
import { chunked, fuzz, mutated, refusesOnly } from './harness.js';

function frames(chunks: readonly Buffer[], max: number): { frames: string[]; error?: string } {
  const d = new FrameDecoder(max);
  const out: string[] = [];
  for (const c of chunks) {
    const r = refusesOnly(() => d.push(c), ZdsError);
    if (r === undefined) return { frames: out, error: 'refused' };
    out.push(...r.map((f) => f.toString('hex')));
  }
  return { frames: out };
}

const name = fc.string({ maxLength: 20 });
const request: fc.Arbitrary<ZdsRequest> = fc.oneof(
  fc.record({ uid: name, name, namespace: name, serviceAccount: name, netnsPath: fc.string({ maxLength: 30 }) }).map(({ netnsPath, ...workload }) => ({ kind: 'add' as const, workload, netnsPath })),
  name.map((uid) => ({ kind: 'keep' as const, uid })),
  name.map((uid) => ({ kind: 'del' as const, uid })),
  fc.constant({ kind: 'snapshotSent' as const }),
);

t.test('framing', async (t) => {
  fuzz(t, 'zds framing (arbitrary bytes)', [fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 8 })], (b, cuts) => {
    const buf = Buffer.from(b);
    if (JSON.stringify(frames([buf], 64)) !== JSON.stringify(frames(chunked(buf, cuts), 64))) throw new Error('chunking changed the frames');
  }, { weight: 3 });
  fuzz(t, 'zds framing round trip', [fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 })], (payloads, cuts) => {
    const wire = Buffer.concat(payloads.map((p) => encodeFrame(p, 100)));
    return JSON.stringify(frames(chunked(wire, cuts), 100).frames) === JSON.stringify(payloads.map((p) => Buffer.from(p).toString('hex')));
  }, { weight: 2 });
});

t.test('messages', async (t) => {
  fuzz(t, 'zds request (arbitrary bytes)', [fc.uint8Array({ maxLength: 200 })], (b) => void refusesOnly(() => decodeRequest(b), ZdsError), { weight: 3 });
  fuzz(t, 'zds request (mutated valid)', [request.chain((r) => mutated(encodeRequest(r)))], (b) => void refusesOnly(() => decodeRequest(b), ZdsError), { weight: 3 });
  fuzz(t, 'zds request round trip', [request], (r) => {
    const back = refusesOnly(() => decodeRequest(encodeRequest(r)), ZdsError);
    // What the encoder writes is read back the same, unless the request itself is one ztunnel must refuse.
    const refusable = (r.kind !== 'snapshotSent' && (r.kind === 'add' ? r.workload.uid : r.uid) === '') || (r.kind === 'add' && (!r.netnsPath.startsWith('/') || r.netnsPath.includes('\0')));
    if (back === undefined) return refusable;
    return !refusable && JSON.stringify(back) === JSON.stringify(r);
  }, { weight: 2 });
  fuzz(t, 'zds hello and ack (mutated valid)', [mutated(encodeHello()), mutated(encodeAck('iptables-restore failed'))], (h, a) => {
    refusesOnly(() => decodeHello(h), ZdsError);
    refusesOnly(() => decodeAck(a), ZdsError);
  }, { weight: 2 });
});
