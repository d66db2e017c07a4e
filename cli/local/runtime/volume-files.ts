// Materialises a pod's file volumes (configMap, secret, downwardAPI, projected) in its state
// directory, and keeps projected service-account tokens fresh: each is requested again when 80%
// of its lifetime has passed, as kubelet does. Files are replaced by rename, so a reader never
// sees half a file; the bind mount of the directory shows the new content to the container.
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveFieldRef, serviceAccountOf } from './container.js';
import type { PodContext, PodSpec } from './types.js';
import type { FileSource, KeyToPath, VolumePlan } from './volumes.js';

/** What the volumes read from the API server. `undefined`: the object does not exist. */
export interface VolumeApi {
  /** `data` as text and `binaryData` as base64, as the API returns them. */
  configMap(namespace: string, name: string): Promise<{ data?: Record<string, string>; binaryData?: Record<string, string> } | undefined>;
  /** `data` as base64. */
  secret(namespace: string, name: string): Promise<{ data?: Record<string, string> } | undefined>;
  /** TokenRequest for the pod's service account, bound to the pod. */
  token(req: { namespace: string; serviceAccount: string; audience?: string; expirationSeconds: number; podName: string; podUid?: string }): Promise<{ token: string; expiresAt: number }>;
}

export type VolumeContext = { ref: string; spec: PodSpec; ctx: PodContext; api: VolumeApi; now?: () => number };

type Files = Map<string, Buffer>;

function pick(all: Record<string, Buffer>, items: KeyToPath[] | undefined, what: string): Files {
  const out: Files = new Map();
  if (!items) {
    for (const [k, v] of Object.entries(all)) out.set(k, v);
    return out;
  }
  for (const it of items) {
    const v = all[it.key];
    if (v === undefined) throw new Error(`${what} has no key "${it.key}"`);
    out.set(it.path, v);
  }
  return out;
}

function mapText(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}="${m![k]}"`)
    .join('\n');
}

/** The files of one source, and when it must be read again (tokens only). */
async function sourceFiles(s: FileSource, v: VolumeContext): Promise<{ files: Files; refreshAt?: number }> {
  const ns = v.ctx.namespace;
  switch (s.kind) {
    case 'configMap': {
      const cm = await v.api.configMap(ns, s.name);
      if (!cm) {
        if (s.optional) return { files: new Map() };
        throw new Error(`configmap "${s.name}" not found`);
      }
      const all: Record<string, Buffer> = {};
      for (const [k, x] of Object.entries(cm.data ?? {})) all[k] = Buffer.from(x);
      for (const [k, x] of Object.entries(cm.binaryData ?? {})) all[k] = Buffer.from(x, 'base64');
      return { files: pick(all, s.items, `configmap "${s.name}"`) };
    }
    case 'secret': {
      const sec = await v.api.secret(ns, s.name);
      if (!sec) {
        if (s.optional) return { files: new Map() };
        throw new Error(`secret "${s.name}" not found`);
      }
      const all: Record<string, Buffer> = {};
      for (const [k, x] of Object.entries(sec.data ?? {})) all[k] = Buffer.from(x, 'base64');
      return { files: pick(all, s.items, `secret "${s.name}"`) };
    }
    case 'downwardAPI': {
      const files: Files = new Map();
      for (const it of s.items) {
        let val: string | undefined;
        if (it.fieldPath === 'metadata.labels') val = mapText(v.ctx.labels);
        else if (it.fieldPath === 'metadata.annotations') val = mapText(v.ctx.annotations);
        else val = resolveFieldRef(it.fieldPath, v.spec, v.ctx);
        if (val === undefined) throw new Error(`downwardAPI item "${it.path}": unsupported fieldRef.fieldPath "${it.fieldPath}"`);
        files.set(it.path, Buffer.from(val));
      }
      return { files };
    }
    case 'serviceAccountToken': {
      const now = (v.now ?? Date.now)();
      const tok = await v.api.token({
        namespace: ns,
        serviceAccount: serviceAccountOf(v.spec),
        expirationSeconds: s.expirationSeconds,
        podName: v.ctx.podName,
        ...(s.audience ? { audience: s.audience } : {}),
        ...(v.ctx.uid ? { podUid: v.ctx.uid } : {}),
      });
      return { files: new Map([[s.path, Buffer.from(tok.token)]]), refreshAt: now + 0.8 * (tok.expiresAt - now) };
    }
  }
}

function writeAtomic(file: string, content: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, file);
}

/** Writes one file volume; returns the earliest time one of its tokens needs refreshing. */
export async function writeFileVolume(vol: Extract<VolumePlan, { kind: 'files' }>, v: VolumeContext): Promise<number | undefined> {
  mkdirSync(vol.dir, { recursive: true });
  let refresh: number | undefined;
  for (const [j, s] of vol.sources.entries()) {
    let got;
    try {
      got = await sourceFiles(s, v);
    } catch (err) {
      throw new Error(`pod ${v.ref}: volume "${vol.name}" (source ${j}, ${s.kind}): ${(err as Error).message}`);
    }
    for (const [rel, content] of got.files) writeAtomic(path.join(vol.dir, rel), content);
    if (got.refreshAt !== undefined) refresh = Math.min(refresh ?? Infinity, got.refreshAt);
  }
  return refresh;
}

/**
 * A hostPath volume's `type`, as kubelet applies it: the ...OrCreate types make what is missing
 * (an empty file, mode 0644, for FileOrCreate), the others check what is there; '' checks nothing.
 */
export function prepareHostPath(vol: Extract<VolumePlan, { kind: 'hostPath' }>, ref: string): void {
  const fail = (what: string): never => {
    throw new Error(`pod ${ref}: volume "${vol.name}": hostPath type check failed: ${vol.dir} ${what}`);
  };
  if (vol.type === 'DirectoryOrCreate' || vol.type === '') {
    mkdirSync(vol.dir, { recursive: true });
    return;
  }
  if (vol.type === 'FileOrCreate' && !existsSync(vol.dir)) {
    mkdirSync(path.dirname(vol.dir), { recursive: true });
    writeFileSync(vol.dir, '', { mode: 0o644, flag: 'a' });
    return;
  }
  if (!existsSync(vol.dir)) fail('does not exist');
  const st = statSync(vol.dir);
  const want: Record<string, [boolean, string]> = {
    Directory: [st.isDirectory(), 'is not a directory'],
    File: [st.isFile(), 'is not a file'],
    FileOrCreate: [st.isFile(), 'is not a file'],
    Socket: [st.isSocket(), 'is not a socket'],
    CharDevice: [st.isCharacterDevice(), 'is not a character device'],
    BlockDevice: [st.isBlockDevice(), 'is not a block device'],
  };
  const check = want[vol.type];
  if (check && !check[0]) fail(check[1]);
}

export type MaterialisedVolumes = { stop(): void };

/**
 * Creates every volume's directory and files before the containers start (a failure throws,
 * naming the pod and volume), then refreshes the volumes that hold tokens.
 */
export async function materialiseVolumes(volumes: VolumePlan[], v: VolumeContext, onRefreshError: (err: Error) => void): Promise<MaterialisedVolumes> {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const schedule = (vol: Extract<VolumePlan, { kind: 'files' }>, at: number | undefined): void => {
    if (at === undefined || stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      writeFileVolume(vol, v).then(
        (next) => schedule(vol, next),
        (err: Error) => {
          onRefreshError(err);
          schedule(vol, (v.now ?? Date.now)() + 10_000);
        },
      );
    }, Math.max(0, at - (v.now ?? Date.now)()));
    timer.unref();
    timers.add(timer);
  };
  const stop = (): void => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
  try {
    for (const vol of volumes) {
      if (vol.kind === 'emptyDir') mkdirSync(vol.dir, { recursive: true });
      else if (vol.kind === 'hostPath') prepareHostPath(vol, v.ref);
      else schedule(vol, await writeFileVolume(vol, v));
    }
  } catch (err) {
    // A failed set-up is tried again from the start: no refresh of what was written so far.
    stop();
    throw err;
  }
  return { stop };
}
