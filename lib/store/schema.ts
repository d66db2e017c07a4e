/**
 * The basic shape every stored object must have (apiVersion, kind, metadata with a valid name,
 * string→string labels), checked with zod, plus the per-kind rules from the registry. Pure: used by
 * the manifest parser and by the store on every write.
 */
import { z } from 'zod';
import { apiVersionOf, findKind, kindInfo, KINDS, resourceName, splitApiVersion, type NameRule } from './kinds.js';
import type { KubeObject } from './types.js';

export interface Issue {
  /** Dotted path, e.g. `metadata.labels.app`; '' for the document itself. */
  field: string;
  message: string;
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;
const API_VERSION = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z0-9]+$/;

function got(input: unknown): string {
  if (input === null) return 'null';
  if (typeof input === 'object') return Array.isArray(input) ? 'a list' : 'a mapping';
  return `${typeof input} ${JSON.stringify(input)}`;
}

/** A string field with messages that say what was found instead. */
function str(hint = '') {
  return z.string({ error: (iss) => (iss.input === undefined ? 'required' : `must be a string${hint}, got ${got(iss.input)}`) });
}

function mapping(what: string) {
  return { error: (iss: { input: unknown }) => (iss.input === undefined ? 'required' : `must be a mapping of ${what}, got ${got(iss.input)}`) };
}

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !SUBDOMAIN.test(prefix))) return `label key prefix "${prefix}" must be a DNS-1123 subdomain`;
  if (name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key "${key}" must be at most 63 characters of letters, digits, '-', '_' and '.', beginning and ending with a letter or digit (optionally after a "prefix/")`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && QUALIFIED_NAME.test(value))) return undefined;
  return `label value "${value}" must be empty or at most 63 characters of letters, digits, '-', '_' and '.', beginning and ending with a letter or digit`;
}

const labels = z.record(
  z.string().superRefine((k, ctx) => {
    const p = labelKeyProblem(k);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
  str(' (quote numbers and booleans in YAML)').superRefine((v, ctx) => {
    const p = labelValueProblem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  }),
  mapping('strings to strings'),
);

const objectSchema = z.looseObject({
  apiVersion: str().regex(API_VERSION, 'must look like "v1" or "group.example.com/v1"'),
  kind: str().regex(KIND, 'must be a CamelCase kind name such as "Deployment"'),
  metadata: z.looseObject(
    {
      name: str().min(1, 'required'),
      namespace: str().optional(),
      labels: labels.optional(),
      annotations: z.record(z.string(), str(' (quote numbers and booleans in YAML)'), mapping('strings to strings')).optional(),
      resourceVersion: str().optional(),
      uid: str().optional(),
    },
    mapping('metadata fields'),
  ),
});

function nameProblem(name: string, rule: NameRule): string | undefined {
  if (rule === 'subdomain') {
    return name.length <= 253 && SUBDOMAIN.test(name) ? undefined : `must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit), got "${name}"`;
  }
  if (rule === 'label') {
    return name.length <= 63 && LABEL.test(name) ? undefined : `must be a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit), got "${name}"`;
  }
  return name.length <= 63 && LABEL1035.test(name) ? undefined : `must be a DNS-1035 label (at most 63 lowercase letters, digits and '-', starting with a letter), got "${name}"`;
}

/** Rules that depend on the kind: its name rule, and an apiVersion the kind is served at. */
function kindProblems(obj: KubeObject): Issue[] {
  const out: Issue[] = [];
  const info = findKind(obj);
  const { group, version } = splitApiVersion(obj.apiVersion);
  if (info && !info.versions.includes(version)) {
    out.push({ field: 'apiVersion', message: `${obj.kind} is served as ${info.versions.map((v) => apiVersionOf(info, v)).join(' or ')}, got "${obj.apiVersion}"` });
  }
  if (!info) {
    // The core group has no custom resources: a known kind written with the wrong group.
    const elsewhere = group === '' ? KINDS.find((k) => k.kind === obj.kind) : undefined;
    // Or a misspelt known kind, which would otherwise share its storage (`POD` is stored as pods).
    const resource = resourceName(kindInfo(obj));
    const clash = KINDS.find((k) => resourceName(k) === resource);
    if (elsewhere) out.push({ field: 'apiVersion', message: `${obj.kind} is in ${apiVersionOf(elsewhere)}, not "${obj.apiVersion}"` });
    else if (clash) out.push({ field: 'kind', message: `unknown kind "${obj.kind}"; did you mean ${clash.kind}?` });
  }
  const p = nameProblem(obj.metadata.name, info?.nameRule ?? 'subdomain');
  if (p) out.push({ field: 'metadata.name', message: p });
  const ns = obj.metadata.namespace;
  if (ns !== undefined && !LABEL.test(ns)) out.push({ field: 'metadata.namespace', message: nameProblem(ns, 'label') ?? 'invalid' });
  return out;
}

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

export type Validation = { ok: true; object: KubeObject } | { ok: false; issues: Issue[] };

/** Checks the basic shape of a Kubernetes object; never throws. */
export function validateObject(input: unknown): Validation {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ field: '', message: `expected a mapping with apiVersion, kind and metadata, got ${got(input)}` }] };
  }
  const r = objectSchema.safeParse(input);
  if (!r.success) {
    const issues = r.error.issues.map((i) => {
      // Record key problems carry the useful message one level down.
      const inner = i.code === 'invalid_key' ? i.issues[0]?.message : undefined;
      return { field: pathOf(i.path), message: inner ?? i.message };
    });
    return { ok: false, issues };
  }
  const obj = input as KubeObject;
  const issues = kindProblems(obj);
  return issues.length ? { ok: false, issues } : { ok: true, object: obj };
}

/** `Deployment demo/frontend`, as far as the (maybe invalid) object allows. */
export function describeObject(input: unknown): string {
  const o = (typeof input === 'object' && input !== null ? input : {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const kind = typeof o.kind === 'string' && o.kind ? o.kind : '<no kind>';
  const meta = typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {};
  const name = typeof meta.name === 'string' && meta.name ? meta.name : '<no name>';
  const ns = typeof meta.namespace === 'string' && meta.namespace ? `${meta.namespace}/` : '';
  return `${kind} ${ns}${name}`;
}

/** One line per issue: `Deployment demo/frontend: metadata.name: must be …`. */
export function formatIssues(subject: string, issues: readonly Issue[]): string {
  return issues.map((i) => `${subject}: ${i.field ? `${i.field}: ` : ''}${i.message}`).join('\n');
}
