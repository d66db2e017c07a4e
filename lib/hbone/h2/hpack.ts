// HPACK (RFC 7541): a full decoder (Huffman, dynamic table, size updates) and a simple encoder
// that uses the static table and never inserts (so a peer's table size costs it nothing). Pure.
import { HpackError } from './errors.js';
import { huffmanDecode, huffmanEncode, huffmanLength } from './huffman.js';
import { STATIC_TABLE } from './hpack-static.js';

export type HeaderField = readonly [name: string, value: string];

/** Per-entry overhead in table and header-list size accounting (RFC 7541 §4.1, RFC 9113 §6.5.2). */
export const ENTRY_OVERHEAD = 32;
export const DEFAULT_TABLE_SIZE = 4096;

/** The dynamic table, newest entry first (index 62 in the combined address space). */
export class DynamicTable {
  private entries: HeaderField[] = [];
  private bytes = 0;

  constructor(private max = DEFAULT_TABLE_SIZE) {}

  get size(): number {
    return this.bytes;
  }

  get maxSize(): number {
    return this.max;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Entry `i`, 0 = newest. */
  at(i: number): HeaderField | undefined {
    return this.entries[i];
  }

  add(f: HeaderField): void {
    const s = f[0].length + f[1].length + ENTRY_OVERHEAD;
    // An entry larger than the table empties it and is not added (§4.4).
    this.evictTo(this.max - s);
    if (s <= this.max) {
      this.entries.unshift(f);
      this.bytes += s;
    }
  }

  resize(max: number): void {
    this.max = max;
    this.evictTo(max);
  }

  private evictTo(limit: number): void {
    while (this.bytes > Math.max(limit, 0) && this.entries.length > 0) {
      const [n, v] = this.entries.pop()!;
      this.bytes -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

export interface DecodedBlock {
  fields: HeaderField[];
  /** Σ(name + value + 32) over every field, also those dropped past `maxListSize`. */
  listSize: number;
  /** Fields were dropped because the list grew past `maxListSize`. */
  truncated: boolean;
}

export class HpackDecoder {
  private readonly table: DynamicTable;
  /** The largest table size the encoder may ask for: our SETTINGS_HEADER_TABLE_SIZE. */
  private limit: number;

  constructor(tableSizeLimit = DEFAULT_TABLE_SIZE) {
    this.limit = tableSizeLimit;
    this.table = new DynamicTable(tableSizeLimit);
  }

  get dynamicTable(): DynamicTable {
    return this.table;
  }

  /** Applies a new SETTINGS_HEADER_TABLE_SIZE of ours once the peer acknowledged it. */
  setTableSizeLimit(n: number): void {
    this.limit = n;
    if (this.table.maxSize > n) this.table.resize(n);
  }

  /**
   * Decodes one complete header block. Past `maxListSize` fields are still decoded (the table
   * must stay in step with the encoder) but no longer kept. Throws HpackError.
   */
  decode(block: Buffer, maxListSize = Infinity): DecodedBlock {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let truncated = false;
    let pos = 0;
    let fieldSeen = false;
    const int = (prefixBits: number): number => {
      const r = decodeInteger(block, pos, prefixBits);
      pos = r.next;
      return r.value;
    };
    const str = (): string => {
      if (pos >= block.length) throw new HpackError('header block ends inside a string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) throw new HpackError(`string of ${len} bytes runs past the end of the header block`);
      const raw = block.subarray(pos, pos + len);
      pos += len;
      return (huffman ? huffmanDecode(raw) : raw).toString('latin1');
    };
    const emit = (f: HeaderField): void => {
      fieldSeen = true;
      listSize += f[0].length + f[1].length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) truncated = true;
      else fields.push(f);
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        emit(this.lookup(int(7)));
      } else if (b & 0x40) {
        const idx = int(6);
        const name = idx === 0 ? str() : this.lookup(idx)[0];
        const f: HeaderField = [name, str()];
        this.table.add(f);
        emit(f);
      } else if (b & 0x20) {
        // A size update is only valid before the first field of a block (§4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const size = int(5);
        if (size > this.limit) throw new HpackError(`dynamic table size update to ${size} exceeds the limit ${this.limit}`);
        this.table.resize(size);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same shape, not added.
        const idx = int(4);
        const name = idx === 0 ? str() : this.lookup(idx)[0];
        emit([name, str()]);
      }
    }
    return { fields, listSize, truncated };
  }

  private lookup(idx: number): HeaderField {
    if (idx === 0) throw new HpackError('index 0 is not a valid table index');
    if (idx <= STATIC_TABLE.length) return STATIC_TABLE[idx - 1]!;
    const f = this.table.at(idx - STATIC_TABLE.length - 1);
    if (!f) throw new HpackError(`index ${idx} is past the end of the dynamic table (${this.table.length} entries)`);
    return f;
  }
}

/** Integers above this are refused: no header block needs them, and they would lose precision. */
const MAX_INTEGER = 2 ** 31 - 1;

export function decodeInteger(b: Buffer, pos: number, prefixBits: number): { value: number; next: number } {
  const mask = (1 << prefixBits) - 1;
  let value = b[pos]! & mask;
  pos++;
  if (value < mask) return { value, next: pos };
  let shift = 0;
  for (;;) {
    if (pos >= b.length) throw new HpackError('header block ends inside an integer');
    const byte = b[pos++]!;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (value > MAX_INTEGER) throw new HpackError('integer overflow');
    if ((byte & 0x80) === 0) return { value, next: pos };
  }
}

/** Appends the HPACK integer `v` with an `prefixBits` prefix; `first` holds the pattern bits above it. */
export function encodeInteger(out: number[], v: number, prefixBits: number, first: number): void {
  const mask = (1 << prefixBits) - 1;
  if (v < mask) {
    out.push(first | v);
    return;
  }
  out.push(first | mask);
  v -= mask;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

const STATIC_FULL = new Map<string, number>();
const STATIC_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([n, v], i) => {
  const key = `${n}\0${v}`;
  if (!STATIC_FULL.has(key)) STATIC_FULL.set(key, i + 1);
  if (!STATIC_NAME.has(n)) STATIC_NAME.set(n, i + 1);
});

export class HpackEncoder {
  private pendingSizeUpdate: number | undefined;
  private current = DEFAULT_TABLE_SIZE;

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE. This encoder never inserts, but a peer that shrinks
   * its table still expects the next block to say so (RFC 7541 §4.2).
   */
  setPeerTableSize(n: number): void {
    if (n < this.current) {
      this.current = n;
      this.pendingSizeUpdate = n;
    }
  }

  /** Encodes `fields` (lower-case names, pseudo-headers first) as one header block. */
  encode(fields: readonly HeaderField[]): Buffer {
    const out: number[] = [];
    if (this.pendingSizeUpdate !== undefined) {
      encodeInteger(out, this.pendingSizeUpdate, 5, 0x20);
      this.pendingSizeUpdate = undefined;
    }
    const parts: Buffer[] = [];
    const flush = (): void => {
      if (out.length) parts.push(Buffer.from(out));
      out.length = 0;
    };
    for (const [name, value] of fields) {
      const full = STATIC_FULL.get(`${name}\0${value}`);
      if (full !== undefined) {
        encodeInteger(out, full, 7, 0x80);
        continue;
      }
      const nameIdx = STATIC_NAME.get(name);
      // Literal without indexing: nothing enters either table.
      encodeInteger(out, nameIdx ?? 0, 4, 0x00);
      if (nameIdx === undefined) {
        flush();
        parts.push(encodeString(name));
      }
      flush();
      parts.push(encodeString(value));
    }
    flush();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}

/** A string literal, Huffman-coded when that is shorter. */
export function encodeString(s: string): Buffer {
  const raw = Buffer.from(s, 'latin1');
  const hlen = huffmanLength(raw);
  const useHuffman = hlen < raw.length;
  const body = useHuffman ? huffmanEncode(raw) : raw;
  const head: number[] = [];
  encodeInteger(head, body.length, 7, useHuffman ? 0x80 : 0);
  return Buffer.concat([Buffer.from(head), body]);
}
