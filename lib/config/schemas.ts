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
