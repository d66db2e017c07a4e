// A type's sync state on one stream, from whether a response is in flight and how the last was answered.
import t from 'tap';
import { syncState } from './server-stream.js';

const rows: Array<[inflight: boolean, last: 'ack' | 'nack' | undefined, want: string]> = [
  [true, undefined, 'STALE'],
  [true, 'ack', 'STALE'],
  [true, 'nack', 'STALE'],
  [false, 'ack', 'SYNCED'],
  [false, 'nack', 'NACKED'],
  [false, undefined, 'SYNCED'],
];
for (const [inflight, last, want] of rows) t.equal(syncState(inflight, last), want, `inflight=${inflight} last=${String(last)}`);
