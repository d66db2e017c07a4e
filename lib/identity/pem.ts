// PEM framing: split bundles into blocks, join them back, convert to and from DER.
import { IdentityError } from './errors.js';

export interface PemBlock {
  label: string;
  der: Buffer;
  /** The block re-encoded canonically (64-column base64, trailing newline). */
  pem: string;
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

export function derToPem(der: Uint8Array | ArrayBuffer, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** All PEM blocks in `text`, optionally only those with `label`; text between blocks is ignored. */
export function splitPemBlocks(text: string, label?: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK_RE)) {
    const [, begin, body, end] = m as unknown as [string, string, string, string];
    if (begin !== end) {
      throw new IdentityError('PEM_INVALID', `PEM block "BEGIN ${begin}" is closed by "END ${end}"`);
    }
    if (label !== undefined && begin !== label) continue;
    const b64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length === 0) {
      throw new IdentityError('PEM_INVALID', `PEM block "${begin}" does not contain valid base64`);
    }
    const der = Buffer.from(b64, 'base64');
    out.push({ label: begin, der, pem: derToPem(der, begin) });
  }
  return out;
}

/** The certificates of a PEM bundle, each as its own canonical PEM string, in order. */
export function splitPem(text: string, label = 'CERTIFICATE'): string[] {
  return splitPemBlocks(text, label).map((b) => b.pem);
}

/** Joins PEM strings into one bundle, one block after another, newline-terminated. */
export function joinPem(pems: readonly string[]): string {
  return pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}

/** Exactly one block with `label`; the error names `what`. */
export function singlePemDer(text: string, label: string, what: string): Buffer {
  const blocks = splitPemBlocks(text, label);
  if (blocks.length !== 1) {
    throw new IdentityError('PEM_INVALID', `${what} must hold exactly one "${label}" PEM block, found ${blocks.length}`);
  }
  return blocks[0]!.der;
}
