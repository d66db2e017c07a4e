// The secret manager against the real CA code: with a fake clock and an in-process CA for the
// schedule, and over real gRPC + TLS for the wire, single-flight, rotation and outages.
import { EventEmitter, once as onceForever } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { create } from '@bufbuild/protobuf';
import { verifyChain } from '../../lib/identity/chain.js';
import { createLeafCertificate } from '../../lib/identity/certgen.js';
import { exportPrivateKeyPem, generateKeyPair } from '../../lib/identity/keys.js';
import { addGrpcService } from '../../lib/proto/grpc.js';
import { IstioCertificateResponseSchema, IstioCertificateService } from '../../lib/proto/gen/istio/v1/auth/ca_pb.js';
import { CertificateAuthority } from '../../control/ca/authority.js';
import { FileAuthenticator } from '../../control/ca/authn.js';
import { NodeAuthorizer, StaticPodIndex } from '../../control/ca/node-auth.js';
import { CertificateService } from '../../control/ca/service.js';
import { Signer } from '../../control/ca/signer.js';
import { makeTempDir, removeDir } from '../../control/ca/testkit.js';
import { CaRequestError, GrpcCaClient, type CaClient, type CertificateRequest } from '../../lib/ca-client/ca-client.js';
import { SecretManager, type Clock, type Credentials } from '../../lib/ca-client/secret-manager.js';

const BACKEND = 'spiffe://cluster.local/ns/demo/sa/backend';
const FRONTEND = 'spiffe://cluster.local/ns/demo/sa/frontend';
const ELSEWHERE = 'spiffe://cluster.local/ns/demo/sa/elsewhere';
/** once() with a deadline, so a missing event fails the test instead of hanging it. */
// Its timer is ref'd: the manager's own timers are not, and must not let the test process exit.
function once(em: EventEmitter, name: string, ms = 15_000): Promise<unknown[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no '${name}' event within ${ms} ms`)), ms);
  return onceForever(em, name, { signal: ac.signal }).finally(() => clearTimeout(timer));
}
const fixedRandom = (): number => 0.5; // backoff without jitter

class FakeClock implements Clock {
  t = Date.now();
  timers = new Map<number, { at: number; fn: () => void }>();
  private id = 0;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): number => {
    this.timers.set(++this.id, { at: this.t + ms, fn });
    return this.id;
  };
  clearTimeout = (h: unknown): void => void this.timers.delete(h as number);
  /** Moves time on, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
  nextDue(): number | undefined {
    const ats = [...this.timers.values()].map((x) => x.at - this.t);
    return ats.length ? Math.min(...ats) : undefined;
  }
}

/** The control plane's certificate service, in process, behind the CaClient interface. */
class InProcessCa implements CaClient {
  requests: CertificateRequest[] = [];
  down = false;
  constructor(private readonly svc: CertificateService, private readonly credential: string) {}
  async createCertificate(req: CertificateRequest): Promise<string[]> {
    this.requests.push(req);
    if (this.down) throw new CaRequestError('UNAVAILABLE', 'CA at test is unreachable');
    const r = await this.svc.handleCreateCertificate({ credential: this.credential, csrPem: req.csrPem, validitySeconds: req.ttlSeconds, impersonatedIdentity: req.identity });
    if (!r.ok) throw new CaRequestError('REFUSED', r.error.message);
    return r.certChain;
  }
}

async function makeCa(t: Test, now?: () => Date): Promise<{ ca: CertificateAuthority; svc: CertificateService; node1: string }> {
  const dir = await makeTempDir('ambit-secrets');
  t.teardown(() => removeDir(dir));
  const ca = await CertificateAuthority.open({ dir });
  const authenticator = await FileAuthenticator.open({ dir });
  const podIndex = new StaticPodIndex([
    { nodeName: 'ambit-node-1', namespace: 'demo', serviceAccount: 'backend' },
    { nodeName: 'ambit-node-1', namespace: 'demo', serviceAccount: 'frontend' },
    { nodeName: 'ambit-node-2', namespace: 'demo', serviceAccount: 'elsewhere' },
  ]);
  const signer = new Signer(ca, now ? { now } : {});
  const svc = new CertificateService({ authenticator, authorizer: new NodeAuthorizer({ podIndex, trustDomain: ca.trustDomain }), signer });
  return { ca, svc, node1: authenticator.issueNodeCredential('ambit-node-1') };
}

t.test('schedule with a fake clock', async (t) => {
  const clock = new FakeClock();
  const { svc, node1 } = await makeCa(t, () => new Date(clock.now()));
  const ca = new InProcessCa(svc, node1);
  const sm = new SecretManager({ ca, ttlSeconds: 3600, clock, random: fixedRandom, backoff: { initialMs: 1000, maxMs: 8000, multiplier: 2, jitter: 0.2 } });
  t.teardown(() => sm.close());

  const first = await sm.get(BACKEND);
  t.equal(first.identity, BACKEND);
  // X.509 times have whole seconds.
  t.ok(Math.abs(first.notAfter.getTime() - clock.now() - 3600_000) < 1000, 'requested TTL honoured');
  t.equal(ca.requests[0]!.ttlSeconds, 3600);
  t.ok(Math.abs(clock.nextDue()! - 1800_000) < 1000, 'renewal at half the lifetime, despite the CA backdating notBefore');
  t.match(sm.snapshot(), [{ identity: BACKEND, state: 'available', serialNumber: first.serialNumber, failures: 0 }]);

  // Renewal fails: retries back off 1, 2, 4, 8, 8 s while the current certificate stays in use.
  ca.down = true;
  clock.advance(1800_000);
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    await once(sm, 'fetchFailed');
    delays.push(clock.nextDue()!);
    t.equal(await sm.get(BACKEND), first, `attempt ${i + 1}: the old certificate is still served`);
    clock.advance(clock.nextDue()!);
  }
  t.same(delays, [1000, 2000, 4000, 8000, 8000]);
  t.match(sm.snapshot()[0], { state: 'available', failures: 5, lastError: /unreachable/ });

  // The CA comes back: the next retry rotates; the old object is untouched for live connections.
  ca.down = false;
  const [identity, next, previous] = (await once(sm, 'rotated')) as [string, Credentials, Credentials];
  t.equal(identity, BACKEND);
  t.equal(previous, first);
  t.not(next.serialNumber, first.serialNumber);
  t.ok(Object.isFrozen(first) && first.certChainPem.length === 1, 'old credentials intact');
  t.equal(await sm.get(BACKEND), next, 'new handshakes get the new certificate');
  t.match(sm.snapshot()[0], { state: 'available', failures: 0 });
  t.notOk('lastError' in sm.snapshot()[0]!);

  // Down again until the certificate expires: get() fails fast with the reason.
  ca.down = true;
  clock.advance(clock.nextDue()!);
  await once(sm, 'fetchFailed');
  while (clock.now() < next.notAfter.getTime()) {
    clock.advance(clock.nextDue()!);
    await once(sm, 'fetchFailed');
  }
  await t.rejects(sm.get(BACKEND), /no certificate for .*backend \(next attempt in \d+ s\): CA at test is unreachable/);
  t.match(sm.snapshot()[0], { state: 'unavailable' });

  // forget: no more timers, a later get starts afresh.
  sm.forget(BACKEND);
  t.equal(clock.nextDue(), undefined, 'no timer left');
  t.same(sm.snapshot(), []);
  t.throws(() => sm.prefetch('spiffe://cluster.local/ns/Bad/sa/x'), /namespace/);
});

interface GrpcCa {
  port: number;
  requests: number;
  stop(): void;
  start(): Promise<void>;
}

/** A minimal gRPC + TLS front for CertificateService, as the control plane will have. */
async function serveCa(svc: CertificateService, ca: CertificateAuthority): Promise<GrpcCa> {
  const keys = await generateKeyPair('ec-p256');
  const now = Date.now();
  const leaf = await createLeafCertificate({ publicKey: keys.publicKey, uris: [], dnsNames: ['localhost'], issuer: ca.material().issuer, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) });
  const keyCert = { private_key: Buffer.from(await exportPrivateKeyPem(keys.privateKey)), cert_chain: Buffer.from(leaf.toString('pem')) };
  let server: grpc.Server | undefined;
  const state: GrpcCa = {
    port: 0,
    requests: 0,
    stop: () => server?.forceShutdown(),
    start: async () => {
      server = new grpc.Server();
      addGrpcService(server, IstioCertificateService, {
        createCertificate: (call, cb) => {
          state.requests++;
          const impersonated = call.request.metadata?.['ImpersonatedIdentity'];
          svc
            .handleCreateCertificate({
              credential: String(call.metadata.get('authorization')[0] ?? ''),
              csrPem: call.request.csr,
              validitySeconds: Number(call.request.validityDuration),
              ...(typeof impersonated === 'string' ? { impersonatedIdentity: impersonated } : {}),
            })
            .then((r) => (r.ok ? cb(null, create(IstioCertificateResponseSchema, { certChain: r.certChain })) : cb({ code: r.error.grpcStatus, details: r.error.message })));
        },
      });
      const s = server;
      state.port = await new Promise<number>((resolve, reject) =>
        s.bindAsync(`127.0.0.1:${state.port}`, grpc.ServerCredentials.createSsl(null, [keyCert], false), (err, p) => (err ? reject(err) : resolve(p))),
      );
    },
  };
  await state.start();
  return state;
}

t.test('over gRPC and TLS against the control plane CA', async (t) => {
  const { ca, svc, node1 } = await makeCa(t);
  const srv = await serveCa(svc, ca);
  t.teardown(() => srv.stop());
  const client = new GrpcCaClient({
    address: `127.0.0.1:${srv.port}`,
    serverName: 'localhost',
    rootsPem: ca.rootPem(),
    credential: () => node1,
    timeoutMs: 3000,
    channelOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 300 },
  });
  t.teardown(() => client.close());

  await t.test('fetch and single-flight', async (t) => {
    const sm = new SecretManager({ ca: client, ttlSeconds: 600 });
    t.teardown(() => sm.close());
    const before = srv.requests;
    const all = await Promise.all(Array.from({ length: 10 }, () => sm.get(BACKEND)));
    t.equal(srv.requests - before, 1, '10 concurrent gets → 1 CSR');
    t.ok(all.every((c) => c === all[0]), 'all callers share one Credentials');
    const c = all[0]!;
    t.equal(c.identity, BACKEND);
    t.same(c.rootsPem.map((p) => p.trim()), [ca.rootPem().trim()]);
    await verifyChain(c.certChainPem[0]!, { roots: c.rootsPem });
    t.ok(Math.abs(c.notAfter.getTime() - Date.now() - 600_000) < 10_000, 'requested TTL');
    t.equal(await sm.get(BACKEND), c, 'cached');
    t.equal(srv.requests - before, 1);
  });

  await t.test('refusal surfaces the CA message', async (t) => {
    const sm = new SecretManager({ ca: client, backoff: { initialMs: 60_000, maxMs: 60_000, multiplier: 2, jitter: 0 } });
    t.teardown(() => sm.close());
    await t.rejects(sm.get(ELSEWHERE), { code: 'REFUSED', message: /refused a certificate for .*elsewhere: node ambit-node-1 has no pod running as spiffe:\/\/cluster.local\/ns\/demo\/sa\/elsewhere \(PERMISSION_DENIED\)/ });
    t.match(sm.snapshot(), [{ identity: ELSEWHERE, state: 'unavailable', failures: 1, lastError: /no pod running as/ }]);
    await t.rejects(sm.get(ELSEWHERE), /no certificate for .*elsewhere \(next attempt in \d+ s\)/, 'fails fast while backing off');
  });

  await t.test('rotation at half of a 4 s lifetime, CA outage, recovery', async (t) => {
    const sm = new SecretManager({ ca: client, ttlSeconds: 4, backoff: { initialMs: 200, maxMs: 800, multiplier: 2, jitter: 0.2 } });
    t.teardown(() => sm.close());
    const fetched = once(sm, 'fetched');
    sm.prefetch(FRONTEND);
    const [, first] = (await fetched) as [string, Credentials];
    const t0 = Date.now();
    const [, second, previous] = (await once(sm, 'rotated')) as [string, Credentials, Credentials];
    const elapsed = Date.now() - t0;
    // Half of 4 s, less up to 0.5 s because X.509 truncates notAfter to whole seconds.
    t.ok(elapsed > 1000 && elapsed < 3500, `rotated after ${elapsed} ms (expected 1.5–2 s)`);
    t.equal(previous, first);
    t.not(second.serialNumber, first.serialNumber);

    // The CA goes away before the next renewal (~2 s): failures back off, the valid cert is kept.
    srv.stop();
    await once(sm, 'fetchFailed');
    const [, err] = (await once(sm, 'fetchFailed')) as [string, Error];
    t.match(err, { code: 'UNAVAILABLE', message: /is unreachable/ });
    t.equal(await sm.get(FRONTEND), second, 'still serving the valid certificate');
    t.ok(sm.snapshot()[0]!.failures >= 2);
    await srv.start();
    const [, third] = (await once(sm, 'rotated')) as [string, Credentials];
    t.ok(third.notAfter > second.notAfter, 'recovered with a new certificate');
    t.equal(sm.snapshot()[0]!.failures, 0);
  });
});
