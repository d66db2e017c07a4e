/**
 * The append-only change journal of a FileStore: a header line, then one JSON line per change
 * (rv, type, full object). Appends and compaction happen only under the store's write lock;
 * readers tail it without locking, reading complete lines only.
 *
 * Compaction writes a new file that keeps the newest part and renames it over the old one. A
 * reader notices the new inode, finishes the old file (immutable by then), and continues in the
 * new one past what it has seen; only if it missed more than was kept (baseRv above what it has)
 * does it report a gap, and the store relists.
 */
import { closeSync, fstatSync, ftruncateSync, linkSync, openSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import type { KubeObject, WatchEventType } from './types.js';

export interface JournalEntry {
  rv: number;
  type: WatchEventType;
  object: KubeObject;
}

interface Header {
  journal: 'ambit-store/v1';
  /** Every change with a larger rv is in this file. */
  baseRv: number;
}

const NL = 0x0a;

function header(baseRv: number): string {
  const h: Header = { journal: 'ambit-store/v1', baseRv };
  return `${JSON.stringify(h)}\n`;
}

export class Journal {
  private fd = -1;
  private ino = 0;
  /** Bytes consumed: everything before is complete lines we have applied. */
  private offset = 0;
  private headerEnd = 0;
  baseRv = 0;
  /** The rv of the newest change read or written. */
  lastRv = 0;
  last?: JournalEntry;
  /** Bytes after `offset` that do not end in a newline yet. */
  partial = 0;
  private needsRelist = false;

  constructor(readonly path: string) {}

  get size(): number {
    return this.offset;
  }

  /** Creates the journal if missing (no lock needed: link refuses to overwrite). */
  static ensure(path: string, baseRv = 0): void {
    try {
      statSync(path);
      return;
    } catch {
      // create below
    }
    const tmp = `${path}.new.${process.pid}`;
    writeFileSync(tmp, header(baseRv));
    try {
      linkSync(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }

  private openCurrent(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.path, 'a+');
    this.ino = fstatSync(this.fd).ino;
    const first = this.readRange(0, Math.min(fstatSync(this.fd).size, 4096));
    const nl = first.indexOf(NL);
    if (nl < 0) throw new Error(`journal ${this.path} has no header line; remove the state directory's journal to rebuild it`);
    const h = JSON.parse(first.subarray(0, nl).toString('utf8')) as Partial<Header>;
    if (h.journal !== 'ambit-store/v1' || typeof h.baseRv !== 'number') throw new Error(`journal ${this.path} has an unknown header: ${first.subarray(0, nl).toString('utf8')}`);
    this.baseRv = h.baseRv;
    this.headerEnd = nl + 1;
    this.offset = this.headerEnd;
  }

  private readRange(from: number, to: number): Buffer {
    const buf = Buffer.allocUnsafe(Math.max(0, to - from));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(this.fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  /** Parses complete lines in [from, to); returns them and where the last complete line ends. */
  private parseRange(from: number, to: number): { entries: JournalEntry[]; end: number } {
    const buf = this.readRange(from, to);
    const entries: JournalEntry[] = [];
    let start = 0;
    for (let nl = buf.indexOf(NL); nl >= 0; nl = buf.indexOf(NL, start)) {
      if (nl > start) entries.push(this.parseLine(buf.subarray(start, nl), from + start));
      start = nl + 1;
    }
    return { entries, end: from + start };
  }

  private parseLine(line: Buffer, at: number): JournalEntry {
    try {
      const e = JSON.parse(line.toString('utf8')) as JournalEntry;
      if (typeof e.rv === 'number' && typeof e.type === 'string' && typeof e.object === 'object') return e;
    } catch {
      // reported below
    }
    throw new Error(`journal ${this.path} is corrupt at byte ${at}; stop every ambit process using this state directory and remove the journal to rebuild it from the object files`);
  }

  /** Reads the journal up to its end, positioning after the last complete line. */
  seekEnd(): void {
    this.needsRelist = false;
    this.openCurrent();
    const size = fstatSync(this.fd).size;
    const { entries, end } = this.parseRange(this.headerEnd, size);
    this.last = entries[entries.length - 1];
    this.lastRv = this.last?.rv ?? this.baseRv;
    this.offset = end;
    this.partial = size - end;
  }

  /**
   * Changes appended since the last call, in order. `gap` means changes were compacted away before
   * this reader saw them: the caller must relist, then call seekEnd().
   */
  readNew(): { entries: JournalEntry[]; gap: boolean } {
    const out: JournalEntry[] = [];
    if (this.needsRelist) return { entries: out, gap: true };
    for (;;) {
      this.drain(out);
      let ino: number;
      try {
        ino = statSync(this.path).ino;
      } catch {
        return { entries: out, gap: false };
      }
      if (ino === this.ino) return { entries: out, gap: false };
      this.drain(out); // appends that landed before the old file was replaced
      this.openCurrent();
      if (this.baseRv > this.lastRv) {
        this.needsRelist = true;
        return { entries: out, gap: true };
      }
    }
  }

  private drain(out: JournalEntry[]): void {
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) {
      this.partial = 0;
      return;
    }
    const { entries, end } = this.parseRange(this.offset, size);
    for (const e of entries) {
      if (e.rv <= this.lastRv) continue; // already seen before a compaction
      out.push(e);
      this.lastRv = e.rv;
      this.last = e;
    }
    this.offset = end;
    this.partial = size - end;
  }

  /** Under the lock: drops a line a crashed writer left half written. */
  truncatePartial(): void {
    if (this.partial > 0) ftruncateSync(this.fd, this.offset);
    this.partial = 0;
  }

  /** Under the lock, after readNew(): appends one change. */
  append(e: JournalEntry): void {
    const line = Buffer.from(`${JSON.stringify(e)}\n`, 'utf8');
    let done = 0;
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done);
    this.offset += line.length;
    this.lastRv = e.rv;
    this.last = e;
  }

  /** Changes with rv > `rv` that this reader has seen, or undefined if some were compacted away. */
  entriesAfter(rv: number): JournalEntry[] | undefined {
    if (rv < this.baseRv) return undefined;
    return this.parseRange(this.headerEnd, this.offset).entries.filter((e) => e.rv > rv);
  }

  /** Under the lock: keeps about the newest `retainBytes` of changes in a fresh file. */
  compact(retainBytes: number): void {
    let from = Math.max(this.headerEnd, this.offset - retainBytes);
    if (from > this.headerEnd) {
      const back = this.readRange(from - 1, this.offset);
      const nl = back.indexOf(NL);
      from = nl < 0 ? this.offset : from - 1 + nl + 1; // start at a line boundary
    }
    const kept = this.readRange(from, this.offset);
    const firstNl = kept.indexOf(NL);
    const first = firstNl > 0 ? (JSON.parse(kept.subarray(0, firstNl).toString('utf8')) as JournalEntry) : undefined;
    const baseRv = first ? first.rv - 1 : this.lastRv;
    const tmp = `${this.path}.compact.${process.pid}`;
    writeFileSync(tmp, Buffer.concat([Buffer.from(header(baseRv)), kept]));
    renameSync(tmp, this.path);
    const lastRv = this.lastRv;
    this.seekEnd();
    this.lastRv = lastRv;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
