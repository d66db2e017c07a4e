// Callers in Kubernetes mode: ztunnels and waypoints present projected service-account tokens for
// Ambit's audience, and the API server says whose they are (TokenReview). A token of a trusted
// node account (ztunnel's) is a node caller, on the node of the pod the token is bound to; any
// other service account is a workload that may only get its own identity. Node credentials that
// this control plane signed itself (File mode, `ambit up`) keep working next to them.
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { TokenIdentity } from '../../lib/store/kube-tokens.js';
import type { KubeObject } from '../../lib/store/types.js';
import { bearerToken, type Authenticator, type Caller, type PeerInfo } from './authn.js';
import { CaError } from './errors.js';

/** The user extra a pod-bound service-account token carries in its review. */
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SA_PREFIX = 'system:serviceaccount:';

export interface ReviewedAccount {
  namespace: string;
  serviceAccount: string;
  /** The pod the token is bound to, when it is. */
  pod?: { name: string; uid?: string };
}

/** The service account (and bound pod) of a successful review; a CaError otherwise. Pure. */
export function accountOf(review: TokenIdentity, audience: string): ReviewedAccount {
  if (!review.authenticated) {
    throw new CaError('CREDENTIAL_INVALID', `the API server refused the token for audience "${audience}": ${review.error || 'not authenticated'}; present a service-account token requested for that audience`);
  }
  if (review.audiences && !review.audiences.includes(audience)) {
    throw new CaError('CREDENTIAL_INVALID', `the token is valid for ${JSON.stringify(review.audiences)}, not for audience "${audience}"`);
  }
  const user = review.username ?? '';
  const parts = user.startsWith(SA_PREFIX) ? user.slice(SA_PREFIX.length).split(':') : [];
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new CaError('CREDENTIAL_INVALID', `the token belongs to "${user}", not to a service account; present a pod's service-account token`);
  }
  const podName = review.extra?.[POD_NAME_EXTRA]?.[0];
  const podUid = review.extra?.[POD_UID_EXTRA]?.[0];
  return { namespace: parts[0], serviceAccount: parts[1], ...(podName ? { pod: { name: podName, ...(podUid ? { uid: podUid } : {}) } } : {}) };
}

/**
 * The caller a reviewed account is. `nodeAccounts` are `namespace/serviceAccount` of node agents;
 * `boundPod` is the token's pod as the store has it. Pure.
 */
export function callerOf(account: ReviewedAccount, trustDomain: string, nodeAccounts: readonly string[], boundPod: KubeObject | undefined): Caller {
  const name = `${account.namespace}/${account.serviceAccount}`;
  if (!nodeAccounts.includes(name)) return { kind: 'workload', identity: `spiffe://${trustDomain}/ns/${account.namespace}/sa/${account.serviceAccount}` };
  if (!account.pod) {
    throw new CaError('CREDENTIAL_INVALID', `node agent ${name} presented a token bound to no pod; mount a projected service-account token (it is bound to the pod), so its node can be known`);
  }
  const ref = `${account.namespace}/${account.pod.name}`;
  if (!boundPod) throw new CaError('CREDENTIAL_INVALID', `node agent ${name}: its token is bound to pod ${ref}, which does not exist`);
  if (account.pod.uid && boundPod.metadata.uid !== account.pod.uid) {
    throw new CaError('CREDENTIAL_INVALID', `node agent ${name}: its token is bound to pod ${ref} uid ${account.pod.uid}, but that pod is now uid ${boundPod.metadata.uid}; the token is stale`);
  }
  const nodeName = (boundPod.spec as { nodeName?: unknown } | undefined)?.nodeName;
  if (typeof nodeName !== 'string' || nodeName === '') throw new CaError('CREDENTIAL_INVALID', `node agent ${name}: pod ${ref} is not scheduled (spec.nodeName is empty)`);
  return { kind: 'node', nodeName };
}

export interface TokenReviewAuthenticatorOptions {
  review: (token: string, audiences: string[]) => Promise<TokenIdentity>;
  /** The pod a token is bound to (the informer's copy, else the API server's). */
  pod: (namespace: string, name: string) => Promise<KubeObject | undefined>;
  audience: string;
  trustDomain: string;
  /** `namespace/serviceAccount` of the node agents (ztunnel). */
  nodeAccounts: readonly string[];
  /** How long a review is trusted again without asking (default 60 s; never past the token's exp). */
  cacheMs?: number;
  now?: () => number;
}

const MAX_CACHED = 10_000;

export class TokenReviewAuthenticator implements Authenticator {
  /** Reviews, not callers: the bound pod is looked up on every call, so a deleted ztunnel pod's token stops at once. */
  private readonly cache = new Map<string, { account: ReviewedAccount; until: number }>();
  private readonly now: () => number;

  constructor(private readonly opts: TokenReviewAuthenticatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  async authenticate(credential: string, _peer?: PeerInfo): Promise<Caller> {
    const token = typeof credential === 'string' ? bearerToken(credential) : '';
    if (token === '') throw new CaError('CREDENTIAL_MISSING', 'no credential: send "authorization: Bearer <service-account token>"');
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.now();
    let account = this.cache.get(key);
    if (!account || account.until <= now) {
      let review: TokenIdentity;
      try {
        review = await this.opts.review(token, [this.opts.audience]);
      } catch (e) {
        // The caller cannot fix this; it is retried on the next request.
        throw new CaError('SIGNING_FAILED', `cannot review the token with the API server: ${(e as Error).message}`);
      }
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      account = { account: accountOf(review, this.opts.audience), until: Math.min(now + (this.opts.cacheMs ?? 60_000), expiryMs(token) ?? Infinity) };
      this.cache.set(key, account);
    }
    return this.resolve(account.account);
  }

  private async resolve(account: ReviewedAccount): Promise<Caller> {
    const pod = account.pod && this.opts.nodeAccounts.includes(`${account.namespace}/${account.serviceAccount}`) ? await this.opts.pod(account.namespace, account.pod.name) : undefined;
    return callerOf(account, this.opts.trustDomain, this.opts.nodeAccounts, pod);
  }
}

function expiryMs(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** The key id in a JWT's header, if it is one. */
export function keyIdOf(token: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Credentials this control plane signed (their key id is its own) go to `own`, every other token
 * to the API server's review.
 */
export class KubeModeAuthenticator implements Authenticator {
  constructor(
    private readonly own: Authenticator & { keyId: string },
    private readonly review: Authenticator,
  ) {}

  authenticate(credential: string, peer?: PeerInfo): Promise<Caller> {
    const token = typeof credential === 'string' ? bearerToken(credential) : '';
    return keyIdOf(token) === this.own.keyId ? this.own.authenticate(credential, peer) : this.review.authenticate(credential, peer);
  }
}
