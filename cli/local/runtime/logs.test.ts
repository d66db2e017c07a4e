import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { formatRecord, LogWriter, MAX_RECORD, parseRecord, readLogs, splitRecords } from './logs.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ambit-logs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const m of it) out.push(m);
  return out;
}

t.test('record format round-trips', async (t) => {
  const line = formatRecord(new Date('2026-02-03T04:05:06.789Z'), 'stderr', true, 'boom: x y');
  t.equal(line, '2026-02-03T04:05:06.789Z stderr F boom: x y\n');
  t.same(parseRecord(line.trimEnd()), { time: '2026-02-03T04:05:06.789Z', stream: 'stderr', full: true, message: 'boom: x y' });
  t.same(parseRecord('2026-02-03T04:05:06.789Z stdout F '), { time: '2026-02-03T04:05:06.789Z', stream: 'stdout', full: true, message: '' });
  t.equal(parseRecord('garbage'), undefined);
});

t.test('line splitting keeps partial tails and cuts long lines', async (t) => {
  const a = splitRecords('', 'one\ntw');
  t.same(a, { records: [{ full: true, message: 'one' }], rest: 'tw' });
  const b = splitRecords(a.rest, 'o\n\nthree');
  t.same(b.records, [{ full: true, message: 'two' }, { full: true, message: '' }]);
  t.equal(b.rest, 'three');
  const long = 'x'.repeat(MAX_RECORD + 10) + '\n';
  const c = splitRecords('', long);
  t.same(c.records.map((r) => [r.full, r.message.length]), [[false, MAX_RECORD], [true, 10]]);
});

t.test('writer captures both streams; reader strips prefixes and joins partials', async (t) => {
  const file = path.join(dir, 'app.log');
  const w = new LogWriter(file);
  const out = new PassThrough();
  const err = new PassThrough();
  w.attach(out, 'stdout');
  w.attach(err, 'stderr');
  out.write('hello\nwor');
  err.write('oops\n');
  out.write('ld\n' + 'y'.repeat(MAX_RECORD + 5) + '\n');
  out.end('no newline at end');
  err.end(Buffer.from([0xc3])); // half of "é", completed never: decoder flushes a replacement
  await new Promise((r) => setImmediate(r));
  await w.close();
  const msgs = await collect(readLogs(file));
  t.same(msgs.slice(0, 3), ['hello', 'oops', 'world']);
  t.equal(msgs[3]?.length, MAX_RECORD + 5);
  t.ok(msgs.includes('no newline at end'));
  t.same(await collect(readLogs(file, { tail: 2 })), msgs.slice(-2));
  t.same(await collect(readLogs(file, { tail: 0 })), []);
  const stamped = await collect(readLogs(file, { timestamps: true, tail: 1 }));
  t.match(stamped[0], /^\d{4}-\d\d-\d\dT[\d:.]+Z /);
  t.same(await collect(readLogs(path.join(dir, 'missing.log'))), []);
});

t.test('follow sees appended lines, survives truncation, stops on abort', async (t) => {
  const file = path.join(dir, 'follow.log');
  writeFileSync(file, formatRecord(new Date(), 'stdout', true, 'first'));
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const m of readLogs(file, { follow: true, signal: ac.signal, pollMs: 10 })) {
      seen.push(m);
      if (m === 'second') writeFileSync(file, formatRecord(new Date(), 'stdout', true, 'after truncate'));
      if (m === 'after truncate') ac.abort();
    }
  })();
  const until = Date.now() + 5000;
  while (seen.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  appendFileSync(file, formatRecord(new Date(), 'stdout', false, 'sec') + formatRecord(new Date(), 'stdout', true, 'ond'));
  await done;
  t.same(seen, ['first', 'second', 'after truncate']);
});
