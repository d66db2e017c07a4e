/**
 * Objects as YAML files: `<root>/<resource>/<namespace or _cluster>/<name>.yaml`, where resource is
 * group-qualified (`pods`, `deployments.apps`), plus `<root>/.checkpoint`, the resourceVersion the
 * files are complete up to. Written to a temp file then renamed into place, so no file is ever
 * half written. `_cluster` cannot clash with a namespace: namespaces are DNS labels, without '_'.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
// The YAML 1.2 core schema keeps strings such as timestamps strings; no aliases, no line folding, so
// a file reads back exactly as the object it was written from.
import { parse, stringify } from 'yaml';
import type { Logger } from '../telemetry/log.js';
import { kindInfo, resourceName } from './kinds.js';
import { isPlainObject } from './objects.js';
import type { KubeObject } from './types.js';

export const CLUSTER_DIR = '_cluster';
const CHECKPOINT = '.checkpoint';

/** Cache key of an object: resource, namespace, name. */
export function storageKey(obj: Pick<KubeObject, 'apiVersion' | 'kind' | 'metadata'>): string {
  return `${resourceName(kindInfo(obj))}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export class ObjectFiles {
  private readonly dirs = new Set<string>();

  constructor(
    readonly root: string,
    private readonly log: Logger,
  ) {}

  /** The file of a storageKey (`resource/namespace/name`). */
  pathOfKey(key: string): string {
    const [resource = '', ns = '', name = ''] = key.split('/');
    return join(this.root, resource, ns || CLUSTER_DIR, `${name}.yaml`);
  }

  write(key: string, obj: KubeObject): void {
    const path = this.pathOfKey(key);
    const dir = dirname(path);
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.dirs.add(dir);
    }
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, stringify(obj, { schema: 'core', aliasDuplicateObjects: false, lineWidth: 0 }));
    // Unlink first: renaming over an existing file makes ext4 (auto_da_alloc) flush the new data
    // to disk, several times slower. The store reads object files only under the write lock, and
    // a crash in between is healed by replaying the journal, so it never sees the gap.
    this.remove(key);
    renameSync(tmp, path);
  }

  remove(key: string): void {
    try {
      unlinkSync(this.pathOfKey(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** The rv the files are complete up to: every change after it is still in the journal. */
  readCheckpoint(): number | undefined {
    try {
      const c = JSON.parse(readFileSync(join(this.root, CHECKPOINT), 'utf8')) as { rv?: unknown };
      return typeof c.rv === 'number' ? c.rv : undefined;
    } catch {
      return undefined;
    }
  }

  writeCheckpoint(rv: number): void {
    const path = join(this.root, CHECKPOINT);
    writeFileSync(`${path}.${process.pid}.tmp`, `${JSON.stringify({ rv })}\n`);
    renameSync(`${path}.${process.pid}.tmp`, path);
  }

  /** Every stored object; files that do not parse are logged and skipped. */
  loadAll(): KubeObject[] {
    const out: KubeObject[] = [];
    for (const resource of list(this.root)) {
      for (const ns of list(join(this.root, resource))) {
        for (const file of list(join(this.root, resource, ns))) {
          if (!file.endsWith('.yaml')) continue; // temp files of interrupted writes
          const path = join(this.root, resource, ns, file);
          try {
            const obj = parse(readFileSync(path, 'utf8'), { schema: 'core' }) as unknown;
            if (!isPlainObject(obj) || !isPlainObject(obj.metadata) || typeof obj.metadata.name !== 'string' || typeof obj.kind !== 'string' || typeof obj.apiVersion !== 'string') {
              throw new Error('not a Kubernetes object (apiVersion, kind, metadata.name)');
            }
            out.push(obj as unknown as KubeObject);
          } catch (err) {
            this.log.warn({ path, err: (err as Error).message }, 'skipping unreadable object file');
          }
        }
      }
    }
    return out;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}
