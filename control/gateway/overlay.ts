// Per-Gateway customisation of the objects the waypoint controller renders, as Istio does it:
// `spec.infrastructure.parametersRef` names a ConfigMap in the Gateway's namespace whose keys
// `deployment`, `service` and `serviceAccount` hold YAML patches, merged over the rendered object
// the way `kubectl patch --type strategic` merges (maps key by key, `null` removes a key, lists of
// named items such as containers, env, ports and volumes merged by `name`, other lists replaced).
// Pure: parsing, merging and the checks that keep a patch from taking the object away from the
// controller (its name, namespace, owner, selector and managed label stay).
import { parse } from 'yaml';
import type { KubeObject } from '../../lib/store/types.js';

/** The ConfigMap keys Istio reads, and the kind each one patches. */
export const OVERLAY_KEYS = { deployment: 'Deployment', service: 'Service', serviceAccount: 'ServiceAccount' } as const;
export type OverlayKey = keyof typeof OVERLAY_KEYS;

export type Overlays = Partial<Record<OverlayKey, Record<string, unknown>>>;

/** A reference the controller cannot use, with the field at fault. */
export class OverlayError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'OverlayError';
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ParametersRef {
  name: string;
}

/** `spec.infrastructure.parametersRef` of a Gateway, undefined when there is none. */
export function parametersRef(gw: KubeObject): ParametersRef | undefined {
  const spec = isRecord(gw.spec) ? gw.spec : {};
  const infra = spec.infrastructure;
  if (infra === undefined) return undefined;
  const field = 'spec.infrastructure.parametersRef';
  if (!isRecord(infra)) throw new OverlayError('spec.infrastructure', 'spec.infrastructure must be an object');
  const ref = infra.parametersRef;
  if (ref === undefined) return undefined;
  if (!isRecord(ref)) throw new OverlayError(field, `${field} must be an object with group, kind and name`);
  const group = ref.group ?? '';
  if (group !== '' || ref.kind !== 'ConfigMap') {
    throw new OverlayError(`${field}.kind`, `${field} names ${JSON.stringify(group)}/${JSON.stringify(ref.kind)}; only a ConfigMap (group "", kind ConfigMap) is supported`);
  }
  if (typeof ref.name !== 'string' || ref.name === '') throw new OverlayError(`${field}.name`, `${field}.name must name a ConfigMap in the Gateway's namespace`);
  return { name: ref.name };
}

/** The patches in a ConfigMap; every error names the ConfigMap and the key. */
export function parseOverlays(cm: KubeObject): Overlays {
  const where = `ConfigMap ${cm.metadata.namespace ?? ''}/${cm.metadata.name}`;
  const data = isRecord((cm as { data?: unknown }).data) ? ((cm as { data?: unknown }).data as Record<string, unknown>) : {};
  const out: Overlays = {};
  for (const [key, text] of Object.entries(data)) {
    if (!(key in OVERLAY_KEYS)) {
      throw new OverlayError(`data.${key}`, `${where}: data.${key} is not a key Ambit reads (use ${Object.keys(OVERLAY_KEYS).join(', ')})`);
    }
    let doc: unknown;
    try {
      doc = parse(String(text));
    } catch (err) {
      throw new OverlayError(`data.${key}`, `${where}: data.${key} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined) continue;
    if (!isRecord(doc)) throw new OverlayError(`data.${key}`, `${where}: data.${key} must be a YAML mapping (a partial ${OVERLAY_KEYS[key as OverlayKey]})`);
    out[key as OverlayKey] = doc;
  }
  return out;
}

const MERGE_KEY = 'name';

function mergeList(base: unknown[], patch: unknown[]): unknown[] {
  const named = (v: unknown): v is Record<string, unknown> => isRecord(v) && typeof v[MERGE_KEY] === 'string';
  if (!patch.every(named) || !base.every(named)) return structuredClone(patch);
  const out = base.map((b) => structuredClone(b));
  for (const p of patch) {
    const i = out.findIndex((b) => b[MERGE_KEY] === p[MERGE_KEY]);
    if (i >= 0) out[i] = strategicMerge(out[i]!, p);
    else out.push(structuredClone(p));
  }
  return out;
}

/** `patch` merged over `base` (neither is changed). */
export function strategicMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    const cur = out[k];
    if (v === null) delete out[k];
    else if (isRecord(v) && isRecord(cur)) out[k] = strategicMerge(cur, v);
    else if (Array.isArray(v) && Array.isArray(cur)) out[k] = mergeList(cur, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

/** What a patch may not change, read from the rendered object. */
function keep(o: KubeObject): Array<[string, unknown]> {
  const spec = isRecord(o.spec) ? o.spec : {};
  return [
    ['apiVersion', o.apiVersion],
    ['kind', o.kind],
    ['metadata.name', o.metadata.name],
    ['metadata.namespace', o.metadata.namespace],
    ['metadata.ownerReferences', o.metadata.ownerReferences],
    ...(o.kind === 'Deployment' || o.kind === 'Service' ? ([['spec.selector', spec.selector]] as Array<[string, unknown]>) : []),
  ];
}

function labelsOf(meta: unknown): Record<string, string> {
  return isRecord(meta) && isRecord(meta.labels) ? (meta.labels as Record<string, string>) : {};
}

function at(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (isRecord(v) ? v[k] : undefined), o);
}

/** The rendered object with its patch applied; the managed labels always survive. */
export function applyOverlay(rendered: KubeObject, overlays: Overlays, cmName: string): KubeObject {
  const key = (Object.keys(OVERLAY_KEYS) as OverlayKey[]).find((k) => OVERLAY_KEYS[k] === rendered.kind);
  const patch = key ? overlays[key] : undefined;
  if (!key || !patch) return rendered;
  const merged = strategicMerge(rendered as unknown as Record<string, unknown>, patch) as unknown as KubeObject;
  for (const [path, want] of keep(rendered)) {
    if (JSON.stringify(at(merged, path)) !== JSON.stringify(want)) {
      throw new OverlayError(`data.${key}`, `ConfigMap ${rendered.metadata.namespace ?? ''}/${cmName}: data.${key} may not change ${path} of the waypoint's ${rendered.kind}`);
    }
  }
  if (!isRecord(merged.metadata)) throw new OverlayError(`data.${key}`, `ConfigMap ${rendered.metadata.namespace ?? ''}/${cmName}: data.${key}.metadata must be a mapping`);
  merged.metadata.labels = { ...labelsOf(merged.metadata), ...(rendered.metadata.labels ?? {}) };
  if (rendered.kind === 'Deployment') {
    // The pods keep the labels the selector, ztunnel and the mesh controller rely on.
    const template = at(merged, 'spec.template');
    if (!isRecord(template) || !isRecord(template.metadata)) throw new OverlayError(`data.${key}`, `ConfigMap ${rendered.metadata.namespace ?? ''}/${cmName}: data.${key}.spec.template.metadata must be a mapping`);
    template.metadata.labels = { ...labelsOf(template.metadata), ...labelsOf(at(rendered, 'spec.template.metadata')) };
  }
  return merged;
}
