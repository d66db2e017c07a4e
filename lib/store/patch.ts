/**
 * A merge patch that makes `field` of an object equal `next` (not merged into the old value):
 * keys of `prev` missing from `next` become `null`, which merge-patch semantics delete.
 */
export function replaceWith(prev: Record<string, unknown> | undefined, next: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...next };
  for (const k of Object.keys(prev ?? {})) if (!(k in next)) out[k] = null;
  return out;
}
