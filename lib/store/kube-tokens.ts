/**
 * Service-account tokens through the API server: TokenRequest mints a bound token for a service
 * account, TokenReview asks the server who a token belongs to. The control plane authenticates
 * ztunnels this way in Kubernetes mode: a ztunnel presents its pod's token, the control plane
 * reviews it for its own audience.
 */
import type { KubeClient } from './kube-client.js';
import { StoreError } from './types.js';

export interface TokenRequestSpec {
  namespace: string;
  serviceAccount: string;
  /** Who the token is for; a reviewer accepts it only for one of these. */
  audiences?: string[];
  /** The server may shorten it; at least 600 (default 3600). */
  expirationSeconds?: number;
  /** Binds the token to a pod (or Secret): it stops verifying when that object is gone, and a review names it. */
  boundObject?: { kind: 'Pod' | 'Secret'; name: string; uid?: string };
}

export interface IssuedToken {
  token: string;
  expirationTimestamp: string;
}

export interface TokenIdentity {
  authenticated: boolean;
  /** `system:serviceaccount:<namespace>:<name>` for a service account. */
  username?: string;
  uid?: string;
  groups?: string[];
  /** The audiences of the request the token is valid for. */
  audiences?: string[];
  /** The review's user extra, e.g. `authentication.kubernetes.io/pod-name` of a pod-bound token. */
  extra?: Record<string, string[]>;
  /** Why the token was refused, when it was. */
  error?: string;
}

export async function requestToken(client: KubeClient, spec: TokenRequestSpec): Promise<IssuedToken> {
  const path = `/api/v1/namespaces/${encodeURIComponent(spec.namespace)}/serviceaccounts/${encodeURIComponent(spec.serviceAccount)}/token`;
  const res = await client.request<{ status?: { token?: string; expirationTimestamp?: string } }>({
    method: 'POST',
    path,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        ...(spec.audiences ? { audiences: spec.audiences } : {}),
        expirationSeconds: spec.expirationSeconds ?? 3600,
        ...(spec.boundObject ? { boundObjectRef: { apiVersion: 'v1', ...spec.boundObject } } : {}),
      },
    },
  });
  const token = res.status?.token;
  if (!token) throw new StoreError('Invalid', `TokenRequest for serviceaccounts "${spec.namespace}/${spec.serviceAccount}": the API server returned no token`);
  return { token, expirationTimestamp: res.status?.expirationTimestamp ?? '' };
}

export async function reviewToken(client: KubeClient, token: string, audiences?: string[]): Promise<TokenIdentity> {
  const res = await client.request<{ status?: { authenticated?: boolean; user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> }; audiences?: string[]; error?: string } }>({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/tokenreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audiences ? { audiences } : {}) } },
  });
  const st = res.status ?? {};
  return {
    authenticated: st.authenticated === true,
    ...(st.user?.username ? { username: st.user.username } : {}),
    ...(st.user?.uid ? { uid: st.user.uid } : {}),
    ...(st.user?.groups ? { groups: st.user.groups } : {}),
    ...(st.user?.extra ? { extra: st.user.extra } : {}),
    ...(st.audiences ? { audiences: st.audiences } : {}),
    ...(st.error ? { error: st.error } : {}),
  };
}
