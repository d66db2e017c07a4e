// HPACK Huffman coding (RFC 7541 §5.2, Appendix B). Decoding walks a binary tree built once from
// the code table; header blocks on an HBONE connection are a few hundred bytes, so a bit-at-a-time
// walk costs nothing next to the TLS record around it. Pure.
import { HpackError } from './errors.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

const EOS = 256;

interface Tree {
  /** Child for a 0 bit / a 1 bit; 0 means none (the root is never a child). */
  zero: Int32Array;
  one: Int32Array;
  /** The symbol a leaf stands for, -1 for inner nodes. */
  sym: Int16Array;
}

function buildTree(): Tree {
  const max = 2 * HUFFMAN_CODES.length;
  const t: Tree = { zero: new Int32Array(max), one: new Int32Array(max), sym: new Int16Array(max).fill(-1) };
  let next = 1;
  HUFFMAN_CODES.forEach((code, symbol) => {
    const len = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const branch = (code >>> i) & 1 ? t.one : t.zero;
      if (branch[node] === 0) branch[node] = next++;
      node = branch[node]!;
    }
    t.sym[node] = symbol;
  });
  return t;
}

const TREE = buildTree();

/** Decodes a Huffman-coded string; padding must be at most 7 bits of the EOS prefix (all ones). */
export function huffmanDecode(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil((src.length * 8) / 5)); // the shortest code is 5 bits
  let n = 0;
  let node = 0;
  let bitsSinceSymbol = 0;
  let onesOnly = true;
  const { zero, one, sym } = TREE;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      node = bit ? one[node]! : zero[node]!;
      bitsSinceSymbol++;
      onesOnly &&= bit === 1;
      const s = sym[node]!;
      if (s >= 0) {
        if (s === EOS) throw new HpackError('Huffman string contains the EOS symbol');
        out[n++] = s;
        node = 0;
        bitsSinceSymbol = 0;
        onesOnly = true;
      } else if (node === 0) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  if (bitsSinceSymbol > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (!onesOnly) throw new HpackError('Huffman padding is not a prefix of EOS');
  return out.subarray(0, n);
}

/** Length in bytes of `src` once Huffman-coded. */
export function huffmanLength(src: Buffer): number {
  let bits = 0;
  for (let i = 0; i < src.length; i++) bits += HUFFMAN_LENGTHS[src[i]!]!;
  return (bits + 7) >>> 3;
}

/** Huffman-codes `src`, padding the last byte with ones. */
export function huffmanEncode(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(huffmanLength(src));
  let acc = 0; // pending bits, at most 7 + 30 of them: kept below 2^53 by flushing per byte
  let accBits = 0;
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    const len = HUFFMAN_LENGTHS[s]!;
    acc = acc * 2 ** len + HUFFMAN_CODES[s]!;
    accBits += len;
    while (accBits >= 8) {
      accBits -= 8;
      const byte = Math.floor(acc / 2 ** accBits);
      out[n++] = byte;
      acc -= byte * 2 ** accBits;
    }
  }
  if (accBits > 0) out[n++] = ((acc << (8 - accBits)) | ((1 << (8 - accBits)) - 1)) & 0xff;
  return out;
}
