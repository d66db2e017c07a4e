// Pure: turns a container spec plus its pod context into the argv, environment and working
// directory of the process, the way kubelet and a container runtime would.
import type { ContainerSpec, PodContext, PodSpec } from './types.js';
import { imageEntrypoint } from './images.js';

export const REASON_NO_ENTRYPOINT = 'InvalidImageEntrypoint';
export const REASON_CONFIG = 'CreateContainerConfigError';

export type LaunchPlan = {
  argv: string[];
  env: Record<string, string>;
  cwd?: string;
};

export type PlanResult = { ok: true; plan: LaunchPlan } | { ok: false; reason: string; message: string };

/**
 * Kubernetes' `$(VAR)` expansion: a defined VAR is replaced, an undefined one is left as written,
 * `$$` is an escaped `$`, and anything else is copied unchanged.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
      } else {
        const name = input.slice(i + 2, close);
        out += lookup(name) ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += '$' + next;
      i += 2;
    }
  }
  return out;
}

/** The value of a downward-API `fieldRef`, or undefined when the path is not supported. */
export function resolveFieldRef(fieldPath: string, pod: PodSpec, ctx: PodContext): string | undefined {
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) {
    const map = sub[1] === 'labels' ? ctx.labels : ctx.annotations;
    return map?.[sub[2] ?? ''] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return ctx.podName;
    case 'metadata.namespace':
      return ctx.namespace;
    case 'metadata.uid':
      return ctx.uid ?? '';
    case 'spec.nodeName':
      return ctx.nodeName ?? pod.nodeName ?? '';
    case 'spec.serviceAccountName':
      return serviceAccountOf(pod);
    case 'status.podIP':
      return ctx.podIP;
    case 'status.podIPs':
      return (ctx.podIPs ?? [ctx.podIP]).join(',');
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP ?? '';
    default:
      return undefined;
  }
}

export function serviceAccountOf(pod: PodSpec): string {
  return pod.serviceAccountName || pod.serviceAccount || 'default';
}

export function podRef(ctx: Pick<PodContext, 'namespace' | 'podName'>): string {
  return `${ctx.namespace}/${ctx.podName}`;
}

/**
 * Resolves `env` in order: each `value` may reference `extraEnv` and the variables defined
 * before it; `valueFrom` values are taken literally.
 */
export function resolveEnv(c: ContainerSpec, index: number, pod: PodSpec, ctx: PodContext): { ok: true; env: Record<string, string> } | { ok: false; message: string } {
  const env: Record<string, string> = { ...(ctx.extraEnv ?? {}) };
  const lookup = (n: string): string | undefined => (Object.hasOwn(env, n) ? env[n] : undefined);
  for (const [j, v] of (c.env ?? []).entries()) {
    const field = `spec.containers[${index}].env[${j}]`;
    if (v.valueFrom) {
      const ref = v.valueFrom.fieldRef;
      const others = Object.keys(v.valueFrom).filter((k) => k !== 'fieldRef');
      if (!ref || others.length > 0) {
        return { ok: false, message: `${field} (${v.name}): valueFrom.${others[0] ?? '?'} is not supported by the local runtime; use value or valueFrom.fieldRef` };
      }
      const val = resolveFieldRef(ref.fieldPath, pod, ctx);
      if (val === undefined) return { ok: false, message: `${field} (${v.name}): unsupported fieldRef.fieldPath "${ref.fieldPath}"` };
      env[v.name] = val;
    } else {
      env[v.name] = expand(v.value ?? '', lookup);
    }
  }
  return { ok: true, env };
}

/**
 * The process to run. `baseEnv` stands in for the image's environment (PATH, HOME): it is
 * visible to the process but, as in Kubernetes, not to `$(VAR)` expansion.
 */
export function planContainer(c: ContainerSpec, index: number, pod: PodSpec, ctx: PodContext, baseEnv: Record<string, string>): PlanResult {
  const who = `pod ${podRef(ctx)} container "${c.name}"`;
  const command = c.command && c.command.length > 0 ? c.command : imageEntrypoint(c.image);
  if (!command) {
    const image = c.image ? ` of image "${c.image}"` : '';
    return {
      ok: false,
      reason: REASON_NO_ENTRYPOINT,
      message: `${who}: spec.containers[${index}].command is required: the local runtime runs programs from this machine and knows only the entrypoint of the Ambit image, not that${image}`,
    };
  }
  const resolved = resolveEnv(c, index, pod, ctx);
  if (!resolved.ok) return { ok: false, reason: REASON_CONFIG, message: `${who}: ${resolved.message}` };
  const vars = resolved.env;
  const lookup = (n: string): string | undefined => (Object.hasOwn(vars, n) ? vars[n] : undefined);
  const argv = [...command, ...(c.args ?? [])].map((a) => expand(a, lookup));
  const env = { ...baseEnv, HOSTNAME: ctx.podName, ...vars };
  return { ok: true, plan: { argv, env, ...(c.workingDir ? { cwd: c.workingDir } : {}) } };
}
