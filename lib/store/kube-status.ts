/**
 * Turns an API server's answer into the store's errors: the reasons model code branches on
 * (NotFound, AlreadyExists, Conflict, Invalid, Gone) become StoreErrors, everything else (denied,
 * unreachable, overloaded) a KubeApiError that says what failed. Pure.
 */
import { StoreError, type StoreErrorCode } from './types.js';

/** The `Status` object an API server returns with every failure. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string; causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

/** A failure that is not one of the store's own codes: authentication, authorization, availability. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** A StoreError that keeps the server's Status, for callers that look at its causes. */
export class KubeStoreError extends StoreError {
  constructor(
    code: StoreErrorCode,
    message: string,
    readonly status: KubeStatus,
  ) {
    super(code, message);
  }
}

/**
 * The field managers a server-side apply conflicted with, from the Status causes
 * (`conflict with "kubectl" using v1`, `conflict with "ambit" with subresource "status" using v1`).
 */
export function conflictingManagers(st: KubeStatus): string[] {
  const out = new Set<string>();
  for (const c of st.details?.causes ?? []) {
    const m = /^conflict with "([^"]+)"/.exec(c.message ?? '');
    if (m?.[1]) out.add(m[1]);
  }
  return [...out];
}

export function isStatus(v: unknown): v is KubeStatus {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'Status';
}

const HINTS: Partial<Record<StoreErrorCode, string>> = {
  Conflict: 'read the object again and retry',
  Gone: 'list again and watch from the list’s resourceVersion',
};

/** `what` names the request, e.g. `PATCH /api/v1/namespaces/demo/pods/web-1`. */
export function errorFromStatus(httpStatus: number, body: unknown, what: string): Error {
  const st: KubeStatus = isStatus(body) ? body : {};
  const reason = st.reason ?? '';
  const message = st.message ?? (typeof body === 'string' && body ? body.trim().slice(0, 500) : `HTTP ${httpStatus}`);
  const code = storeCode(httpStatus, reason);
  if (code) {
    const hint = code === 'Conflict' && /^Apply failed/.test(message)
      ? 'another field manager owns these fields: change them through it, or apply with force to take them over'
      : HINTS[code];
    return new KubeStoreError(code, hint ? `${message}; ${hint}` : message, st);
  }
  const hint =
    httpStatus === 401 ? 'the kubeconfig’s credentials were refused; check the user in the current context'
    : httpStatus === 403 ? 'grant the identity the verb on this resource with RBAC'
    : httpStatus === 429 || httpStatus >= 500 ? 'the API server is unavailable or overloaded; retry later'
    : '';
  return new KubeApiError(httpStatus, reason, `${what}: ${message}${hint ? `; ${hint}` : ''}`);
}

function storeCode(httpStatus: number, reason: string): StoreErrorCode | undefined {
  if (reason === 'AlreadyExists') return 'AlreadyExists';
  if (httpStatus === 404) return 'NotFound';
  if (httpStatus === 409) return 'Conflict';
  if (httpStatus === 410 || reason === 'Expired' || reason === 'Gone') return 'Gone';
  if (httpStatus === 422 || httpStatus === 400) return 'Invalid';
  return undefined;
}
