// Pure: turns a pod's `volumes` and its containers' `volumeMounts` into a mount plan: what to
// materialise under the pod's state directory, and which host path each container sees at which
// mountPath. Errors name the pod and the field.
import path from 'node:path';

export type KeyToPath = { key: string; path: string; mode?: number };

/** One source of files inside a volume directory (a projected volume has several). */
export type FileSource =
  | { kind: 'configMap'; name: string; items?: KeyToPath[]; optional: boolean }
  | { kind: 'secret'; name: string; items?: KeyToPath[]; optional: boolean }
  | { kind: 'serviceAccountToken'; path: string; audience?: string; expirationSeconds: number }
  | { kind: 'downwardAPI'; items: Array<{ path: string; fieldPath: string }> };

export type VolumePlan =
  | { name: string; kind: 'emptyDir'; dir: string }
  | { name: string; kind: 'hostPath'; dir: string; type: string }
  | { name: string; kind: 'files'; dir: string; sources: FileSource[] };

/** None (the default) or HostToContainer; Bidirectional needs a privileged container and is refused. */
export type MountPropagation = 'None' | 'HostToContainer';

export type MountPlan = { container: string; source: string; target: string; readOnly: boolean; propagation: MountPropagation };

/** Where a pod's hostPath lives on this machine (a node of the local cluster has its own directories). */
export type HostPathMapper = (p: string) => string;

export type PodMountPlan = { volumes: VolumePlan[]; mounts: MountPlan[] };

type Obj = Record<string, unknown>;

/** Kubelet's floor and default for a projected token's lifetime. */
export const TOKEN_MIN_SECONDS = 600;
export const TOKEN_DEFAULT_SECONDS = 3600;

const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];

class PlanError extends Error {}

function relPath(p: unknown, field: string): string {
  if (typeof p !== 'string' || p === '') throw new PlanError(`${field}: must be a non-empty relative path`);
  if (path.isAbsolute(p) || p.split('/').includes('..')) throw new PlanError(`${field}: "${p}" must be relative and must not contain '..'`);
  return p;
}

function items(v: unknown, field: string): KeyToPath[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new PlanError(`${field}: must be a list`);
  return v.map((it: Obj, i) => {
    if (typeof it?.key !== 'string' || !it.key) throw new PlanError(`${field}[${i}].key: required`);
    return { key: it.key, path: relPath(it.path, `${field}[${i}].path`), ...(typeof it.mode === 'number' ? { mode: it.mode } : {}) };
  });
}

function named(v: Obj, field: string, key: 'name' | 'secretName'): string {
  const n = v[key];
  if (typeof n !== 'string' || !n) throw new PlanError(`${field}.${key}: required`);
  return n;
}

function downward(v: Obj, field: string): FileSource {
  const list = v.items;
  if (!Array.isArray(list)) throw new PlanError(`${field}.items: must be a list`);
  return {
    kind: 'downwardAPI',
    items: list.map((it: Obj, i) => {
      const f = `${field}.items[${i}]`;
      const fieldPath = (it?.fieldRef as Obj | undefined)?.fieldPath;
      if (typeof fieldPath !== 'string') throw new PlanError(`${f}.fieldRef.fieldPath: required (resourceFieldRef is not supported by the local runtime)`);
      return { path: relPath(it.path, `${f}.path`), fieldPath };
    }),
  };
}

function projectedSource(s: Obj, field: string): FileSource {
  const keys = Object.keys(s ?? {});
  if (keys.length !== 1) throw new PlanError(`${field}: exactly one of configMap, secret, serviceAccountToken, downwardAPI is required`);
  const key = keys[0]!;
  const v = s[key] as Obj;
  const f = `${field}.${key}`;
  switch (key) {
    case 'configMap':
      return { kind: 'configMap', name: named(v, f, 'name'), ...opt(items(v.items, `${f}.items`)), optional: v.optional === true };
    case 'secret':
      return { kind: 'secret', name: named(v, f, 'name'), ...opt(items(v.items, `${f}.items`)), optional: v.optional === true };
    case 'downwardAPI':
      return downward(v, f);
    case 'serviceAccountToken': {
      const exp = v.expirationSeconds ?? TOKEN_DEFAULT_SECONDS;
      if (typeof exp !== 'number' || !Number.isInteger(exp) || exp < TOKEN_MIN_SECONDS) {
        throw new PlanError(`${f}.expirationSeconds: must be an integer of at least ${TOKEN_MIN_SECONDS}, got ${JSON.stringify(exp)}`);
      }
      if (v.audience !== undefined && typeof v.audience !== 'string') throw new PlanError(`${f}.audience: must be a string`);
      return { kind: 'serviceAccountToken', path: relPath(v.path, `${f}.path`), expirationSeconds: exp, ...(v.audience ? { audience: v.audience } : {}) };
    }
    default:
      throw new PlanError(`${f}: not supported by the local runtime`);
  }
}

function opt(it: KeyToPath[] | undefined): { items?: KeyToPath[] } {
  return it ? { items: it } : {};
}

function planVolume(v: Obj, i: number, stateDir: string, hostPath: HostPathMapper): VolumePlan {
  const field = `spec.volumes[${i}]`;
  const name = v?.name;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new PlanError(`${field}.name: must be a DNS label, got ${JSON.stringify(name)}`);
  const kinds = Object.keys(v).filter((k) => k !== 'name');
  if (kinds.length !== 1) throw new PlanError(`${field} (${name}): exactly one volume source is required, got ${kinds.length ? kinds.join(', ') : 'none'}`);
  const kind = kinds[0]!;
  const src = (v[kind] ?? {}) as Obj;
  const f = `${field}.${kind}`;
  const dir = path.join(stateDir, 'volumes', name);
  switch (kind) {
    case 'emptyDir':
      return { name, kind: 'emptyDir', dir };
    case 'hostPath': {
      const p = src.path;
      if (typeof p !== 'string' || !path.isAbsolute(p)) throw new PlanError(`${f}.path (${name}): must be an absolute path, got ${JSON.stringify(p)}`);
      const type = typeof src.type === 'string' ? src.type : '';
      if (!HOST_PATH_TYPES.includes(type)) throw new PlanError(`${f}.type (${name}): unknown type "${type}"`);
      return { name, kind: 'hostPath', dir: hostPath(path.normalize(p).replace(/(.)\/+$/, '$1')), type };
    }
    case 'configMap':
      return { name, kind: 'files', dir, sources: [{ kind: 'configMap', name: named(src, f, 'name'), ...opt(items(src.items, `${f}.items`)), optional: src.optional === true }] };
    case 'secret':
      return { name, kind: 'files', dir, sources: [{ kind: 'secret', name: named(src, f, 'secretName'), ...opt(items(src.items, `${f}.items`)), optional: src.optional === true }] };
    case 'downwardAPI':
      return { name, kind: 'files', dir, sources: [downward(src, f)] };
    case 'projected': {
      const sources = src.sources;
      if (!Array.isArray(sources)) throw new PlanError(`${f}.sources (${name}): must be a list`);
      return { name, kind: 'files', dir, sources: sources.map((s: Obj, j) => projectedSource(s, `${f}.sources[${j}]`)) };
    }
    default:
      throw new PlanError(`${f} (${name}): volume type "${kind}" is not supported by the local runtime`);
  }
}

function propagationOf(v: unknown, field: string): MountPropagation {
  if (v === undefined || v === 'None') return 'None';
  if (v === 'HostToContainer') return 'HostToContainer';
  if (v === 'Bidirectional') throw new PlanError(`${field}: Bidirectional is not supported by the local runtime (use HostToContainer or None)`);
  throw new PlanError(`${field}: must be None, HostToContainer or Bidirectional, got ${JSON.stringify(v)}`);
}

/**
 * The pod's mount plan; `stateDir` is the pod's own directory, volumes go in `<stateDir>/volumes/<name>`;
 * `hostPath` maps a hostPath volume's path to this machine's (default: the same path).
 */
export function planPodVolumes(podRef: string, spec: { volumes?: unknown; containers: Array<{ name: string; volumeMounts?: unknown }> }, stateDir: string, hostPath: HostPathMapper = (p) => p): { ok: true; plan: PodMountPlan } | { ok: false; message: string } {
  try {
    const list = (spec.volumes ?? []) as Obj[];
    if (!Array.isArray(list)) throw new PlanError('spec.volumes: must be a list');
    const volumes = list.map((v, i) => planVolume(v, i, stateDir, hostPath));
    const byName = new Map<string, VolumePlan>();
    volumes.forEach((v, i) => {
      if (byName.has(v.name)) throw new PlanError(`spec.volumes[${i}].name: duplicate volume "${v.name}"`);
      byName.set(v.name, v);
    });
    const mounts: MountPlan[] = [];
    spec.containers.forEach((c, ci) => {
      const vms = (c.volumeMounts ?? []) as Obj[];
      const seen = new Set<string>();
      vms.forEach((m, mi) => {
        const f = `spec.containers[${ci}].volumeMounts[${mi}]`;
        const vol = typeof m?.name === 'string' ? byName.get(m.name) : undefined;
        if (!vol) throw new PlanError(`${f}.name: no volume named ${JSON.stringify(m?.name)} in spec.volumes`);
        const target = m.mountPath;
        if (typeof target !== 'string' || !path.isAbsolute(target)) throw new PlanError(`${f}.mountPath: must be an absolute path, got ${JSON.stringify(target)}`);
        const norm = path.normalize(target).replace(/(.)\/+$/, '$1');
        if (seen.has(norm)) throw new PlanError(`${f}.mountPath: "${target}" is mounted twice in container "${c.name}"`);
        seen.add(norm);
        const sub = m.subPath === undefined || m.subPath === '' ? '' : relPath(m.subPath, `${f}.subPath`);
        // Kubelet mounts token, configMap, secret and downward volumes read-only whatever the mount says.
        const readOnly = m.readOnly === true || vol.kind === 'files';
        const propagation = propagationOf(m.mountPropagation, `${f}.mountPropagation`);
        mounts.push({ container: c.name, source: sub ? path.join(vol.dir, sub) : vol.dir, target: norm, readOnly, propagation });
      });
    });
    return { ok: true, plan: { volumes, mounts } };
  } catch (err) {
    if (err instanceof PlanError) return { ok: false, message: `pod ${podRef}: ${err.message}` };
    throw err;
  }
}
