// verifyToken against tokens built independently with jose (and by hand where jose refuses to
// build them): what a verifier must refuse, and the reason it gives.
import { createHmac, createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import t from 'tap';
import { keyIdOf, signToken, type TokenClaims } from '../../lib/credentials/token.js';
import { CaError } from './errors.js';
import { verifyToken, type TokenExpectations } from './token.js';

const NOW = 1_900_000_000;
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const kid = keyIdOf(key);
const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const expect: TokenExpectations = { issuer: 'ambit-ca', audience: 'istio-ca', now: NOW };
const claims: TokenClaims = { iss: 'ambit-ca', aud: 'istio-ca', sub: 'ambit-node-1', kind: 'node', iat: NOW - 60, exp: NOW + 3600 };
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

async function outcome(token: string, e: TokenExpectations = expect, publicKey: KeyObject = createPublicKey(key)): Promise<TokenClaims | string> {
  try {
    return await verifyToken(token, publicKey, kid, e);
  } catch (err) {
    return err instanceof CaError ? `${err.code}: ${err.message}` : `unexpected: ${String(err)}`;
  }
}

function joseSigned(c: object, signingKey: KeyObject, header: Record<string, unknown> = { alg: 'ES256', kid }): Promise<string> {
  return new SignJWT(c as Record<string, unknown>).setProtectedHeader(header as { alg: string }).sign(signingKey);
}

t.test('a credential signed with the CA key verifies, however it was built', async (t) => {
  t.same(await outcome(signToken(claims, key, kid)), claims, 'lib/credentials signer');
  t.same(await outcome(await joseSigned(claims, key)), claims, 'jose signer');
});

t.test('refusals', async (t) => {
  const hs256 = (() => {
    // The algorithm-confusion attack: the public key's PEM used as an HMAC secret.
    const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' });
    const input = `${b64({ alg: 'HS256', kid })}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', createSecretKey(Buffer.from(pem))).update(input).digest('base64url')}`;
  })();
  const cases: Array<[string, string | Promise<string>, RegExp, TokenExpectations?]> = [
    ['alg none (unsecured JWT)', `${new UnsecuredJWT({ ...claims }).encode()}sig`, /^CREDENTIAL_MALFORMED: .*algorithm "none" is not accepted; expected "ES256"/],
    ['alg none, empty signature', new UnsecuredJWT({ ...claims }).encode(), /^CREDENTIAL_MALFORMED: .*three base64url parts/],
    ['HS256 keyed with the public key', hs256, /^CREDENTIAL_MALFORMED: .*algorithm "HS256" is not accepted/],
    ['ES384', `${b64({ alg: 'ES384', kid })}.${b64(claims)}.${'A'.repeat(128)}`, /^CREDENTIAL_MALFORMED: .*algorithm "ES384" is not accepted/],
    ['wrong key, same key id', joseSigned(claims, otherKey), /^CREDENTIAL_FORGED: credential signature does not verify/],
    ['wrong key, its own key id', joseSigned(claims, otherKey, { alg: 'ES256', kid: keyIdOf(otherKey) }), /^CREDENTIAL_FORGED: .*signed by key "[^"]+", not by this CA's key/],
    ['no key id', joseSigned(claims, key, { alg: 'ES256' }), /^CREDENTIAL_FORGED: .*signed by key undefined/],
    ['expired', joseSigned({ ...claims, iat: NOW - 7200, exp: NOW - 1 }, key), /^CREDENTIAL_EXPIRED: credential for node ambit-node-1 expired at 2030-03-17T17:46:39.000Z/],
    ['expired this very second', joseSigned({ ...claims, exp: NOW }, key), /^CREDENTIAL_EXPIRED/],
    ['expired beyond the tolerated skew', joseSigned({ ...claims, exp: NOW - 31 }, key), /^CREDENTIAL_EXPIRED/, { ...expect, expirySkewSeconds: 30 }],
    ['wrong audience', joseSigned({ ...claims, aud: 'kubernetes' }, key), /^CREDENTIAL_INVALID: credential audience is "kubernetes", expected "istio-ca"/],
    ['audience list without ours', joseSigned({ ...claims, aud: ['a', 'b'] as never }, key), /^CREDENTIAL_INVALID: credential audience is \["a","b"\]/],
    ['wrong issuer', joseSigned({ ...claims, iss: 'someone' }, key), /^CREDENTIAL_INVALID: credential issuer is "someone", expected "ambit-ca"/],
    ['issuer missing', joseSigned({ ...claims, iss: undefined }, key), /^CREDENTIAL_MALFORMED: .*claim "iss" is missing or not a string/],
    ['exp not a number', joseSigned({ ...claims, exp: 'soon' as never }, key), /^CREDENTIAL_MALFORMED: .*claim "exp" is missing or not a number/],
    ['not yet valid (nbf)', joseSigned({ ...claims, nbf: NOW + 600 }, key), /^CREDENTIAL_INVALID: .*not valid before/],
    ['issued in the future', joseSigned({ ...claims, iat: NOW + 600, exp: NOW + 7200 }, key), /^CREDENTIAL_INVALID: .*issued in the future/],
    ['payload not an object', `${b64({ alg: 'ES256', kid })}.${Buffer.from('[1]').toString('base64url')}.${'A'.repeat(86)}`, /^CREDENTIAL_(MALFORMED|FORGED)/],
  ];
  for (const [name, token, re, e] of cases) t.match(await outcome(await token, e), re, name);
});

t.test('tolerances', async (t) => {
  const justExpired = await joseSigned({ ...claims, exp: NOW - 10 }, key);
  t.same(await outcome(justExpired, { ...expect, expirySkewSeconds: 30 }), { ...claims, exp: NOW - 10 }, 'expiry skew is opt-in');
  const early = await joseSigned({ ...claims, iat: NOW + 200, exp: NOW + 7200 }, key);
  t.equal(typeof (await outcome(early)), 'object', 'iat up to 300 s ahead is clock skew');
  t.match(await outcome(early, { ...expect, skewSeconds: 100 }), /^CREDENTIAL_INVALID: .*in the future/, 'but not beyond the skew asked for');
});
