import { stat } from 'node:fs/promises';
import path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { bearerToken, FileAuthenticator, NODE_TOKEN_KEY_FILE, type Caller } from './authn.js';
import { CaError } from './errors.js';
import { makeTempDir, removeDir } from './testkit.js';
import { signToken } from '../../lib/credentials/token.js';

async function outcome(a: FileAuthenticator, credential: string): Promise<Caller | string> {
  try {
    return await a.authenticate(credential);
  } catch (e) {
    return e instanceof CaError ? `${e.code} (${e.kind}): ${e.message}` : `unexpected: ${String(e)}`;
  }
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

t.test('node and workload credentials round-trip; the key persists', async (t) => {
  const dir = await makeTempDir('ambit-authn');
  t.teardown(() => removeDir(dir));
  const a = await FileAuthenticator.open({ dir });
  t.equal((await stat(path.join(dir, NODE_TOKEN_KEY_FILE))).mode & 0o777, 0o600, 'signing key is 0600');
  const node = a.issueNodeCredential('ambit-node-1');
  t.same(await a.authenticate(node), { kind: 'node', nodeName: 'ambit-node-1' });
  t.same(await a.authenticate(`Bearer ${node}`), { kind: 'node', nodeName: 'ambit-node-1' }, 'Bearer prefix');
  const wl = a.issueWorkloadCredential('spiffe://cluster.local/ns/istio-system/sa/waypoint');
  t.same(await a.authenticate(wl), { kind: 'workload', identity: 'spiffe://cluster.local/ns/istio-system/sa/waypoint' });
  const reopened = await FileAuthenticator.open({ dir });
  t.equal(reopened.keyId, a.keyId, 'same key after restart');
  t.same(await reopened.authenticate(node), { kind: 'node', nodeName: 'ambit-node-1' }, 'old credential still valid');
  t.throws(() => a.issueNodeCredential('Bad_Node'), /node name "Bad_Node" is not a valid/);
  t.throws(() => a.issueWorkloadCredential('spiffe://cluster.local/ns/x'), /path must be/);
  t.equal(bearerToken('  bearer   abc '), 'abc');
});

t.test('forged, expired and malformed credentials are refused with a reason', async (t) => {
  const dir = await makeTempDir('ambit-authn');
  const otherDir = await makeTempDir('ambit-authn');
  t.teardown(() => Promise.all([removeDir(dir), removeDir(otherDir)]));
  let now = new Date('2030-01-01T00:00:00Z');
  const a = await FileAuthenticator.open({ dir, now: () => now });
  const other = await FileAuthenticator.open({ dir: otherDir, now: () => now });
  const key = createPrivateKey(await readFile(path.join(dir, NODE_TOKEN_KEY_FILE), 'utf8'));
  const good = a.issueNodeCredential('ambit-node-1', 3600);
  const [h, p, s] = good.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const resigned = (c: Record<string, unknown>): string => signToken(c as never, key, a.keyId);
  const flipped = Buffer.from(s, 'base64url');
  flipped[10] = flipped[10]! ^ 1;

  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /^CREDENTIAL_MISSING \(unauthenticated\): no credential/],
    ['"Bearer " only', 'Bearer ', /^CREDENTIAL_MISSING/],
    ['not a token', 'hello', /^CREDENTIAL_MALFORMED .*three base64url parts/],
    ['legacy HMAC form', 'ambit-node:ambit-node-1:1999999999:abcd', /^CREDENTIAL_MALFORMED/],
    ['two parts', `${h}.${p}`, /^CREDENTIAL_MALFORMED/],
    ['header not JSON', `aGVsbG8.${p}.${s}`, /^CREDENTIAL_MALFORMED .*header is not a JSON object/],
    ['alg none', `${b64({ alg: 'none', kid: a.keyId })}.${p}.${s}`, /^CREDENTIAL_MALFORMED .*algorithm "none" is not accepted/],
    ['HS256', `${b64({ alg: 'HS256', kid: a.keyId })}.${p}.${s}`, /^CREDENTIAL_MALFORMED .*"HS256"/],
    ['short signature', `${h}.${p}.AAAA`, /^CREDENTIAL_MALFORMED .*signature is 3 bytes, expected 64/],
    ['too long', `${h}.${'A'.repeat(9000)}.${s}`, /^CREDENTIAL_MALFORMED .*more than 8192/],
    ['another installation', other.issueNodeCredential('ambit-node-1'), /^CREDENTIAL_FORGED .*signed by key .*not by this CA's key/],
    ['payload swapped (node-2)', `${h}.${b64({ ...claims, sub: 'ambit-node-2' })}.${s}`, /^CREDENTIAL_FORGED .*signature does not verify/],
    ['signature altered', `${h}.${p}.${flipped.toString('base64url')}`, /^CREDENTIAL_FORGED/],
    ['wrong issuer', resigned({ ...claims, iss: 'someone' }), /^CREDENTIAL_INVALID .*issuer is "someone"/],
    ['wrong audience', resigned({ ...claims, aud: 'kubernetes' }), /^CREDENTIAL_INVALID .*audience is "kubernetes", expected "istio-ca"/],
    ['unknown kind', resigned({ ...claims, kind: 'admin' }), /^CREDENTIAL_MALFORMED .*"kind" is "admin"/],
    ['exp missing', resigned({ ...claims, exp: undefined }), /^CREDENTIAL_MALFORMED .*"exp" is missing/],
    ['issued in the future', resigned({ ...claims, iat: (now.getTime() / 1000) + 3600, exp: now.getTime() / 1000 + 7200 }), /^CREDENTIAL_INVALID .*in the future/],
    ['bad node name', resigned({ ...claims, sub: 'Not A Node' }), /^CREDENTIAL_MALFORMED .*node name/],
    ['bad workload id', resigned({ ...claims, kind: 'workload', sub: 'spiffe://x/y' }), /^CREDENTIAL_MALFORMED .*path must be/],
  ];
  for (const [name, cred, re] of cases) t.match(await outcome(a, cred), re, name);
  t.same(await outcome(a, good), { kind: 'node', nodeName: 'ambit-node-1' }, 'the original is fine');
  now = new Date(now.getTime() + 3600_000);
  t.match(await outcome(a, good), /^CREDENTIAL_EXPIRED \(unauthenticated\): credential for node ambit-node-1 expired at 2030-01-01T01:00:00.000Z/, 'expired');
});
