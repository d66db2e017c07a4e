// Checks a pod spec from the store before anything runs, so that a bad manifest fails with the
// pod, the field and the reason instead of a crash deep in the supervisor.
import { z } from 'zod';
import type { PodSpec } from './types.js';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const portName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const portRef = z.union([
  z.number().int().min(1).max(65535),
  z.string().max(15).regex(portName, 'must be a port number or a named port (lowercase letters, digits, "-")'),
]);
const seconds = z.number().int().min(0);
const positive = z.number().int().min(1);

const probe = z
  .object({
    httpGet: z
      .object({
        path: z.string().optional(),
        port: portRef,
        host: z.string().optional(),
        scheme: z.enum(['HTTP', 'HTTPS']).optional(),
        httpHeaders: z.array(z.object({ name: z.string().min(1), value: z.string() })).optional(),
      })
      .optional(),
    tcpSocket: z.object({ port: portRef, host: z.string().optional() }).optional(),
    exec: z.object({ command: z.array(z.string()).min(1) }).optional(),
    initialDelaySeconds: seconds.optional(),
    periodSeconds: positive.optional(),
    timeoutSeconds: positive.optional(),
    successThreshold: positive.optional(),
    failureThreshold: positive.optional(),
    terminationGracePeriodSeconds: seconds.optional(),
  })
  .refine((p) => [p.httpGet, p.tcpSocket, p.exec].filter((h) => h !== undefined).length === 1, {
    message: 'exactly one of httpGet, tcpSocket or exec is required (grpc is not supported by the local runtime)',
  });

const oneShotProbe = probe.refine((p) => p.successThreshold === undefined || p.successThreshold === 1, {
  message: 'successThreshold must be 1 for liveness and startup probes',
  path: ['successThreshold'],
});

const envVar = z
  .object({
    name: z.string().min(1).regex(/^[^=]+$/, 'must not contain "="'),
    value: z.string().optional(),
    valueFrom: z.looseObject({ fieldRef: z.object({ fieldPath: z.string().min(1), apiVersion: z.string().optional() }).optional() }).optional(),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { message: 'value and valueFrom are mutually exclusive' });

const container = z.object({
  name: z.string().max(63).regex(dnsLabel, 'must be a DNS label (lowercase letters, digits, "-")'),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVar).optional(),
  workingDir: z.string().optional(),
  ports: z
    .array(
      z.object({
        name: z.string().max(15).regex(portName).optional(),
        containerPort: z.number().int().min(1).max(65535),
        protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
      }),
    )
    .optional(),
  readinessProbe: probe.optional(),
  livenessProbe: oneShotProbe.optional(),
  startupProbe: oneShotProbe.optional(),
});

const podSpec = z.object({
  containers: z
    .array(container)
    .min(1)
    .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, { message: 'container names must be unique' }),
  nodeName: z.string().optional(),
  serviceAccountName: z.string().optional(),
  serviceAccount: z.string().optional(),
  restartPolicy: z.enum(['Always', 'OnFailure', 'Never']).optional(),
  terminationGracePeriodSeconds: seconds.optional(),
});

export function formatPath(path: readonly PropertyKey[]): string {
  let out = 'spec';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** Returns the spec with only the fields the runtime uses, or throws naming the pod and field. */
export function parsePodSpec(spec: unknown, podRef: string): PodSpec {
  const r = podSpec.safeParse(spec);
  if (r.success) return r.data;
  const problems = r.error.issues.slice(0, 5).map((i) => `${formatPath(i.path)}: ${i.message}`);
  throw new Error(`pod ${podRef}: invalid spec: ${problems.join('; ')}`);
}
