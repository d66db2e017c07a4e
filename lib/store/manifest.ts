/**
 * Reads manifests as users write them: multi-document YAML (`---`), JSON, or a `List` with `items`.
 * Every problem found is reported, each naming the file, the document, the object and the field.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describeObject, validateObject } from './schema.js';
import { StoreError, type KubeObject } from './types.js';

export interface ManifestIssue {
  source: string;
  /** 1-based index of the YAML document in the source. */
  document: number;
  /** Index in `items` when the document is a List. */
  item?: number;
  /** `Deployment demo/frontend`, or what is known of it. */
  object?: string;
  /** Dotted path of the offending field; absent for document-level problems. */
  field?: string;
  message: string;
}

export function formatManifestIssue(i: ManifestIssue): string {
  const where = `${i.source}: document ${i.document}${i.item !== undefined ? ` items[${i.item}]` : ''}`;
  return `${where}: ${i.object ? `${i.object}: ` : ''}${i.field ? `${i.field}: ` : ''}${i.message}`;
}

export class ManifestError extends StoreError {
  constructor(readonly issues: readonly ManifestIssue[]) {
    super('Invalid', issues.map(formatManifestIssue).join('\n'));
    this.name = 'ManifestError';
  }
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function isList(doc: Record<string, unknown>): boolean {
  return typeof doc.kind === 'string' && doc.kind.endsWith('List') && 'items' in doc;
}

/** Validates one parsed document (object or List) into `out`, collecting problems in `issues`. */
function collect(doc: unknown, source: string, document: number, out: KubeObject[], issues: ManifestIssue[]): void {
  if (doc === null || doc === undefined) return; // empty document, e.g. a trailing `---`
  const asRecord = typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  if (asRecord && isList(asRecord)) {
    const items = asRecord.items;
    if (!Array.isArray(items)) {
      issues.push({ source, document, object: String(asRecord.kind), field: 'items', message: 'must be a list of objects' });
      return;
    }
    items.forEach((item, i) => check(item, { source, document, item: i }, out, issues));
    return;
  }
  check(doc, { source, document }, out, issues);
}

function check(input: unknown, at: Pick<ManifestIssue, 'source' | 'document' | 'item'>, out: KubeObject[], issues: ManifestIssue[]): void {
  const v = validateObject(input);
  if (v.ok) {
    out.push(v.object);
    return;
  }
  const object = typeof input === 'object' && input !== null && !Array.isArray(input) ? describeObject(input) : undefined;
  for (const i of v.issues) issues.push({ ...at, ...(object ? { object } : {}), ...(i.field ? { field: i.field } : {}), message: i.message });
}

/**
 * Parses YAML (any number of `---` documents) or JSON text into objects. Throws a ManifestError
 * listing every problem; nothing is returned unless the whole text is valid.
 */
export function parseManifests(text: string, source = '<input>'): KubeObject[] {
  const out: KubeObject[] = [];
  const issues: ManifestIssue[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [];
  list.forEach((doc, i) => {
    const document = i + 1;
    const err = doc.errors[0];
    if (err) {
      issues.push({ source, document, message: `invalid YAML: ${err.message.split('\n')[0] ?? err.message}` });
      return;
    }
    // toJS throws for what parsing lets through: an alias to an anchor that is not set (yet), or
    // an alias bomb past maxAliasCount.
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      issues.push({ source, document, message: `invalid YAML: ${(e as Error).message}` });
      return;
    }
    collect(value, source, document, out, issues);
  });
  if (issues.length) throw new ManifestError(issues);
  return out;
}

function parseJson(text: string, source: string): KubeObject[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ManifestError([{ source, document: 1, message: `invalid JSON: ${(err as Error).message}` }]);
  }
  const out: KubeObject[] = [];
  const issues: ManifestIssue[] = [];
  collect(doc, source, 1, out, issues);
  if (issues.length) throw new ManifestError(issues);
  return out;
}

/** Parses one file's text by its extension (`.json` strictly as JSON, anything else as YAML). */
export function parseManifestText(text: string, source: string): KubeObject[] {
  return extname(source).toLowerCase() === '.json' ? parseJson(text, source) : parseManifests(text, source);
}

/**
 * Loads a manifest file, or every `.yaml`/`.yml`/`.json` file directly inside a directory (sorted by
 * name, not recursive). Problems in all files are reported together.
 */
export async function loadManifests(fileOrDir: string): Promise<KubeObject[]> {
  let files: string[];
  try {
    const st = await stat(fileOrDir);
    files = st.isDirectory()
      ? (await readdir(fileOrDir)).filter((f) => EXTENSIONS.has(extname(f).toLowerCase())).sort().map((f) => join(fileOrDir, f))
      : [fileOrDir];
  } catch (err) {
    throw new StoreError('Invalid', `cannot read manifests from ${fileOrDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const out: KubeObject[] = [];
  const issues: ManifestIssue[] = [];
  for (const file of files) {
    try {
      out.push(...parseManifestText(await readFile(file, 'utf8'), file));
    } catch (err) {
      if (err instanceof ManifestError) issues.push(...err.issues);
      else throw new StoreError('Invalid', `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  if (issues.length) throw new ManifestError(issues);
  return out;
}
