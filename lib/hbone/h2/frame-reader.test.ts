// The frame reader alone: frames come out the same however the socket splits the bytes.
import t from 'tap';
import { FrameReader } from './frame-reader.js';
import { Flag, FrameType, frame, settingsFrame } from './frames.js';

function read(chunks: Buffer[]): string[] {
  const ev: string[] = [];
  const r = new FrameReader(
    {
      dataStart: (h) => void ev.push(`DATA(${h.streamId}) start`),
      dataChunk: (_h, c) => void ev.push(`data ${c.toString('hex')}`),
      dataEnd: () => void ev.push('end'),
      frame: (h, p) => void ev.push(`frame ${h.type} ${p.toString('hex')}`),
    },
    { maxFrameSize: 16_384, expectPreface: false },
  );
  try {
    for (const c of chunks) r.push(c);
  } catch (e) {
    ev.push(`error ${(e as Error).message}`);
  }
  return ev.filter((e) => e !== 'data ');
}

t.test('every split of the bytes gives the same frames', async (t) => {
  const bytes = Buffer.concat([
    settingsFrame([]),
    // Found by the fuzz tier: a PADDED DATA frame whose header ended a chunk read its pad length
    // from the empty rest of that chunk and delivered no data.
    frame(FrameType.DATA, Flag.PADDED, 1, Buffer.from([2, 0xaa, 0xbb, 0xcc, 0, 0])),
    frame(FrameType.DATA, 0, 1, Buffer.from('hello')),
    frame(FrameType.PING, 0, 0, Buffer.alloc(8, 7)),
  ]);
  const whole = read([bytes]);
  t.same(whole.filter((e) => e.startsWith('data')), ['data aabbcc', `data ${Buffer.from('hello').toString('hex')}`]);
  const data = (evs: string[]): string => evs.filter((e) => e.startsWith('data')).map((e) => e.slice(5)).join('');
  const frames = (evs: string[]): string[] => evs.filter((e) => !e.startsWith('data'));
  for (let cut = 0; cut <= bytes.length; cut++) {
    const split = read([bytes.subarray(0, cut), bytes.subarray(cut)]);
    // DATA may arrive in more pieces; the bytes and the other frames are the same.
    t.equal(data(split), data(whole), `cut at ${cut}: the same data`);
    t.same(frames(split), frames(whole), `cut at ${cut}: the same frames`);
  }
});
