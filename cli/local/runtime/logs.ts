// Container logs in the CRI file format (`<time> <stream> <F|P> <message>`), one file per
// container, appended across restarts; and a reader that gives back the messages.
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export type LogStream = 'stdout' | 'stderr';

/** Longer lines are split into partial (`P`) records, as CRI runtimes do. */
export const MAX_RECORD = 16 * 1024;

export function formatRecord(time: Date, stream: LogStream, full: boolean, message: string): string {
  return `${time.toISOString()} ${stream} ${full ? 'F' : 'P'} ${message}\n`;
}

export type LogRecord = { time: string; stream: LogStream; full: boolean; message: string };

export function parseRecord(line: string): LogRecord | undefined {
  const m = /^(\S+) (stdout|stderr) ([FP]) ?(.*)$/s.exec(line);
  if (!m) return undefined;
  return { time: m[1] ?? '', stream: m[2] as LogStream, full: m[3] === 'F', message: m[4] ?? '' };
}

/** Splits a stream's text into records; keeps the unterminated tail for the next chunk. */
export function splitRecords(buffered: string, chunk: string): { records: Array<{ full: boolean; message: string }>; rest: string } {
  let text = buffered + chunk;
  const records: Array<{ full: boolean; message: string }> = [];
  for (;;) {
    const nl = text.indexOf('\n');
    if (nl >= 0 && nl <= MAX_RECORD) {
      records.push({ full: true, message: text.slice(0, nl) });
      text = text.slice(nl + 1);
    } else if (text.length > MAX_RECORD) {
      records.push({ full: false, message: text.slice(0, MAX_RECORD) });
      text = text.slice(MAX_RECORD);
    } else {
      return { records, rest: text };
    }
  }
}

export class LogWriter {
  private readonly out: WriteStream;
  private open = 0;

  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.out = createWriteStream(path, { flags: 'a' });
    // A full disk must not take the runner down; the container keeps running without logs.
    this.out.on('error', () => undefined);
  }

  /** Copies a process's output into the file until the stream ends. */
  attach(input: Readable, stream: LogStream): void {
    const decoder = new StringDecoder('utf8');
    let rest = '';
    this.open++;
    input.on('data', (b: Buffer) => {
      const r = splitRecords(rest, decoder.write(b));
      rest = r.rest;
      for (const rec of r.records) this.out.write(formatRecord(this.now(), stream, rec.full, rec.message));
    });
    const finish = (): void => {
      const tail = rest + decoder.end();
      rest = '';
      if (tail) this.out.write(formatRecord(this.now(), stream, true, tail));
    };
    input.once('end', finish);
    input.once('close', finish);
    input.on('error', () => undefined);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}

export type ReadLogsOptions = {
  /** Keep reading as the file grows, until `signal` aborts. */
  follow?: boolean;
  /** Only the last N messages that exist when reading starts. */
  tail?: number;
  /** Prefix each message with its RFC 3339 time, like `kubectl logs --timestamps`. */
  timestamps?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
};

/** Reassembles records into messages; lines that are not CRI records pass through whole. */
class Assembler {
  private partial: Partial<Record<LogStream, string>> = {};
  constructor(private readonly timestamps: boolean) {}

  push(line: string): string | undefined {
    const rec = parseRecord(line);
    if (!rec) return line;
    if (!rec.full) {
      this.partial[rec.stream] = (this.partial[rec.stream] ?? '') + rec.message;
      return undefined;
    }
    const msg = (this.partial[rec.stream] ?? '') + rec.message;
    delete this.partial[rec.stream];
    return this.timestamps ? `${rec.time} ${msg}` : msg;
  }
}

function wait(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The messages of a container log (prefixes stripped). A missing file yields nothing, or, when
 * following, is waited for.
 */
export async function* readLogs(path: string, opts: ReadLogsOptions = {}): AsyncGenerator<string> {
  const asm = new Assembler(opts.timestamps ?? false);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!opts.follow) return;
    data = Buffer.alloc(0);
  }
  let offset = data.length;
  let carry = '';
  const lines = data.toString('utf8').split('\n');
  carry = lines.pop() ?? '';
  const first: string[] = [];
  for (const l of lines) {
    const m = asm.push(l);
    if (m !== undefined) first.push(m);
  }
  const start = opts.tail !== undefined && opts.tail >= 0 ? Math.max(0, first.length - opts.tail) : 0;
  for (const m of first.slice(start)) yield m;
  if (!opts.follow) return;

  const decoder = new StringDecoder('utf8');
  while (!opts.signal?.aborted) {
    await wait(opts.pollMs ?? 200, opts.signal);
    if (opts.signal?.aborted) return;
    const size = await stat(path).then((s) => s.size, () => 0);
    if (size < offset) {
      offset = 0;
      carry = '';
    }
    if (size === offset) continue;
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      offset += bytesRead;
      const parts = (carry + decoder.write(buf.subarray(0, bytesRead))).split('\n');
      carry = parts.pop() ?? '';
      for (const l of parts) {
        const m = asm.push(l);
        if (m !== undefined) yield m;
      }
    } finally {
      await fh.close();
    }
  }
}
