// SPIFFE identities in Istio's shape: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
import { IdentityError } from './errors.js';

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
  /** The canonical URI form, as it appears in a certificate's URI SAN. */
  uri: string;
}

export const SPIFFE_SCHEME = 'spiffe://';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// SPIFFE spec: trust domain names use lowercase letters, digits, '.', '-' and '_' only.
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
// Kubernetes: namespaces are DNS-1123 labels, service accounts DNS-1123 subdomains.
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns a reason when `td` is not a valid trust domain, else undefined. */
export function trustDomainProblem(td: string): string | undefined {
  if (td === '') return 'trust domain is empty';
  if (td.length > 255) return `trust domain is ${td.length} characters long (at most 255)`;
  if (!TRUST_DOMAIN_RE.test(td)) {
    return `trust domain "${td}" may contain only lowercase letters, digits, '.', '-' and '_'`;
  }
  return undefined;
}

/** Returns a reason when `ns` is not a valid Kubernetes namespace name, else undefined. */
export function namespaceProblem(ns: string): string | undefined {
  if (ns === '') return 'namespace is empty';
  if (ns.length > 63 || !DNS_LABEL_RE.test(ns)) {
    return `namespace "${ns}" is not a valid Kubernetes namespace name (lowercase letters, digits and '-', at most 63)`;
  }
  return undefined;
}

/** Returns a reason when `sa` is not a valid Kubernetes service account name, else undefined. */
export function serviceAccountProblem(sa: string): string | undefined {
  if (sa === '') return 'service account is empty';
  if (sa.length > 253 || !DNS_SUBDOMAIN_RE.test(sa)) {
    return `service account "${sa}" is not a valid Kubernetes name (lowercase letters, digits, '-' and '.', at most 253)`;
  }
  return undefined;
}

function fail(input: string, why: string): never {
  throw new IdentityError('SPIFFE_INVALID', `SPIFFE id "${input}": ${why}`);
}

/** Parses and validates an Istio-style SPIFFE id; the error names the part that is wrong. */
export function parseSpiffeId(input: string): SpiffeId {
  if (typeof input !== 'string' || input === '') {
    throw new IdentityError('SPIFFE_INVALID', 'SPIFFE id is empty');
  }
  if (!input.startsWith(SPIFFE_SCHEME)) fail(input, `scheme must be "${SPIFFE_SCHEME}"`);
  if (/[?#%]/.test(input)) fail(input, 'query, fragment and percent-encoding are not allowed');
  const rest = input.slice(SPIFFE_SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const tdProblem = trustDomainProblem(trustDomain);
  if (tdProblem) fail(input, tdProblem);
  const parts = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (parts.length !== 4) {
    fail(input, 'path must be "/ns/<namespace>/sa/<service-account>"');
  }
  const [nsKey, namespace, saKey, serviceAccount] = parts as [string, string, string, string];
  if (nsKey !== 'ns') fail(input, `first path segment must be "ns", got "${nsKey}"`);
  if (saKey !== 'sa') fail(input, `third path segment must be "sa", got "${saKey}"`);
  const nsProblem = namespaceProblem(namespace);
  if (nsProblem) fail(input, nsProblem);
  const saProblem = serviceAccountProblem(serviceAccount);
  if (saProblem) fail(input, saProblem);
  return { trustDomain, namespace, serviceAccount, uri: input };
}

/** Like parseSpiffeId, but returns undefined instead of throwing. */
export function tryParseSpiffeId(input: string): SpiffeId | undefined {
  try {
    return parseSpiffeId(input);
  } catch {
    return undefined;
  }
}

/** Builds the URI form, validating each part. */
export function formatSpiffeId(parts: { trustDomain: string; namespace: string; serviceAccount: string }): string {
  const uri = `${SPIFFE_SCHEME}${parts.trustDomain}/ns/${parts.namespace}/sa/${parts.serviceAccount}`;
  const problem =
    trustDomainProblem(parts.trustDomain) ??
    namespaceProblem(parts.namespace) ??
    serviceAccountProblem(parts.serviceAccount);
  if (problem) throw new IdentityError('SPIFFE_INVALID', `SPIFFE id "${uri}": ${problem}`);
  return uri;
}

/** Convenience: a SpiffeId object from its parts. */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
  return { trustDomain, namespace, serviceAccount, uri: formatSpiffeId({ trustDomain, namespace, serviceAccount }) };
}

export function isSpiffeUri(s: string): boolean {
  return s.startsWith(SPIFFE_SCHEME);
}

/** The trust domain of any spiffe:// URI (also non-Istio paths), or undefined. */
export function trustDomainOf(uri: string): string | undefined {
  if (!uri.startsWith(SPIFFE_SCHEME)) return undefined;
  const rest = uri.slice(SPIFFE_SCHEME.length);
  const slash = rest.indexOf('/');
  return slash < 0 ? rest : rest.slice(0, slash);
}
