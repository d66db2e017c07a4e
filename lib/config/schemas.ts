// zod shapes of settings that several components' Config schemas share.
import { z } from 'zod';
import { trustDomainProblem } from '../identity/spiffe.js';

/** A resolved listen address (parseListenAddress's result). */
export const listenAddressSchema = z.object({ host: z.string().min(1), port: z.number().int().min(0).max(65535) });

/** `host:port` or `[v6]:port` to dial. */
export const hostPortSchema = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port');

export const trustDomainSchema = z.string().superRefine((v, ctx) => {
  const p = trustDomainProblem(v);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** Where spans go: an OTLP/HTTP traces URL (tracing.ts appends /v1/traces to a bare host). */
export const otlpEndpointSchema = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an http:// or https:// URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318/v1/traces');

/** The share of new traces recorded, in percent. */
export const samplingPercentSchema = z.number().int().min(0).max(100);
