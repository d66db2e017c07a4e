// Helpers for tests of identity code (here and in control/ca): tampering and small PKIs.
import { derToPem, splitPemBlocks } from './pem.js';

/** Flips one byte of a PEM object's DER, `fromEnd` bytes before its end (the signature area). */
export function tamperPem(pem: string, fromEnd = 1): string {
  const block = splitPemBlocks(pem)[0];
  if (!block) throw new Error('tamperPem: no PEM block');
  const der = Buffer.from(block.der);
  const i = der.length - fromEnd;
  der[i] = der[i]! ^ 0x01;
  return derToPem(der, block.label);
}

/** Replaces the first occurrence of `from` with `to` (same length) inside the DER of a PEM object. */
export function patchPemBytes(pem: string, from: string, to: string): string {
  if (from.length !== to.length) throw new Error('patchPemBytes: lengths differ');
  const block = splitPemBlocks(pem)[0];
  if (!block) throw new Error('patchPemBytes: no PEM block');
  const der = Buffer.from(block.der);
  const i = der.indexOf(from, 0, 'latin1');
  if (i < 0) throw new Error(`patchPemBytes: "${from}" not found`);
  der.write(to, i, 'latin1');
  return derToPem(der, block.label);
}
