// Sends one request to a cluster with the route's retry policy and timeouts: each try picks an
// endpoint (others before those already tried, as Istio's previous-hosts predicate does), opens
// or reuses an upstream connection, and waits for the response headers within the per-try
// timeout and what is left of the route timeout. Outcomes go to outlier detection; the result
// carries Envoy's response flags (UF, UC, UT, UH, UO, URX).
import type { RetryPolicy } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { OutlierOutcome, PickContext, Release } from '../engines.js';
import { backoffMs, isRetriable, perTryTimeoutMs, type TryOutcome } from '../filters/retry.js';
import type { EndpointInfo, WaypointView } from '../state/types.js';
import type { OutgoingRequest, UpstreamClient, UpstreamProtocol, UpstreamResponse } from './client.js';
import { UpstreamError } from './client.js';
import type { Cluster } from './cluster.js';
import type { ReplayBody } from './replay-body.js';

export interface ForwardInput {
  cluster: Cluster;
  view: WaypointView;
  client: UpstreamClient;
  protocol: UpstreamProtocol;
  request: Omit<OutgoingRequest, 'body'>;
  /** undefined: a request without a body. */
  body: ReplayBody | undefined;
  retry: RetryPolicy | undefined;
  /** The route timeout, retries included; undefined: none. */
  timeoutMs: number | undefined;
  pick: PickContext;
  /** Aborts when the downstream client goes away. */
  signal: AbortSignal;
  random: () => number;
}

export type ForwardResult =
  | {
      kind: 'response';
      response: UpstreamResponse;
      endpoint: EndpointInfo;
      flags: string[];
      tries: number;
      /** Call when the response body is over (frees the endpoint's active count). */
      release(): void;
    }
  | { kind: 'failure'; status: number; message: string; flags: string[]; tries: number; endpoint?: EndpointInfo };

function outlierOutcome(o: TryOutcome): OutlierOutcome {
  switch (o.kind) {
    case 'response':
      if (o.status === 502 || o.status === 503 || o.status === 504) return 'gateway-error';
      return o.status >= 500 ? '5xx' : 'success';
    case 'connect-failure':
      return 'connect-failure';
    default:
      return 'gateway-error';
  }
}

function grpcStatusOf(h: Record<string, string | string[] | undefined>): number | undefined {
  const v = h['grpc-status'];
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';

const FLAG_OF: Record<string, string> = { 'connect-failure': 'UF', 'refused-stream': 'UF', reset: 'UC', timeout: 'UT' };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function forward(f: ForwardInput): Promise<ForwardResult> {
  const slot = f.cluster.breaker.tryRequest();
  if (!slot) return { kind: 'failure', status: 503, message: OVERFLOW, flags: ['UO'], tries: 0 };
  const retries = f.retry?.attempts ?? 0;
  const perTry = perTryTimeoutMs(f.retry);
  const deadline = f.timeoutMs === undefined ? undefined : performance.now() + f.timeoutMs;
  const tried = new Set<string>();
  const retrySlots: Release[] = [];
  const releaseAll = (): void => {
    slot();
    for (const r of retrySlots.splice(0)) r();
  };
  let last: ForwardResult | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      const wait = backoffMs(f.retry!, attempt, f.random);
      await sleep(deadline === undefined ? wait : Math.min(wait, Math.max(0, deadline - performance.now())), f.signal);
    }
    if (f.signal.aborted) break;
    const left = deadline === undefined ? undefined : deadline - performance.now();
    if (left !== undefined && left <= 0) {
      last = { kind: 'failure', status: 504, message: 'upstream request timeout', flags: ['UT'], tries: attempt };
      break;
    }
    const picked = f.cluster.pick(f.view, f.pick, tried);
    if (!picked) {
      last = { kind: 'failure', status: 503, message: 'no healthy upstream', flags: ['UH'], tries: attempt };
      break;
    }
    tried.add(picked.endpoint.uid);
    const ac = new AbortController();
    let why: 'per-try' | 'route' | 'client' | undefined;
    const onClient = (): void => {
      why ??= 'client';
      ac.abort();
    };
    f.signal.addEventListener('abort', onClient, { once: true });
    const budget = Math.min(perTry ?? Infinity, left ?? Infinity);
    const timer = Number.isFinite(budget)
      ? setTimeout(() => {
          why ??= perTry !== undefined && (left === undefined || perTry < left) ? 'per-try' : 'route';
          ac.abort();
        }, budget)
      : undefined;
    let outcome: TryOutcome;
    let response: UpstreamResponse | undefined;
    let error: string | undefined;
    try {
      response = await f.client.send(picked.target, f.protocol, { ...f.request, body: f.body?.stream(true) }, ac.signal, f.cluster);
      const grpcStatus = grpcStatusOf(response.headers);
      outcome = { kind: 'response', status: response.status, ...(grpcStatus !== undefined ? { grpcStatus } : {}) };
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'overflow') {
        // The pool had no pending slot: a local 503 UO, not retried, not the endpoint's fault.
        picked.done(undefined);
        last = { kind: 'failure', status: 503, message: OVERFLOW, flags: ['UO'], tries: attempt + 1, endpoint: picked.endpoint };
        break;
      }
      error = (e as Error).message;
      outcome = why === 'per-try' || why === 'route' ? { kind: 'timeout' } : { kind: e instanceof UpstreamError && e.kind !== 'overflow' ? e.kind : 'reset' };
    } finally {
      if (timer) clearTimeout(timer);
      f.signal.removeEventListener('abort', onClient);
    }
    picked.done(outlierOutcome(outcome));
    const retriable = f.retry !== undefined && isRetriable(f.retry, outcome) && why !== 'route' && why !== 'client';
    // Another try only if the policy allows one, the body can be sent again and the breaker has room.
    const again = retriable && attempt < retries && (!f.body || f.body.replayable) ? f.cluster.breaker.tryRetry() : undefined;
    if (again) retrySlots.push(again);
    if (response) {
      // The timer only covers the wait for headers; the body streams as long as it takes.
      const r = response;
      if (!again) {
        return { kind: 'response', response: r, endpoint: picked.endpoint, flags: retriable ? ['URX'] : [], tries: attempt + 1, release: releaseAll };
      }
      r.body.resume();
      r.body.destroy();
      continue;
    }
    if (why === 'client') {
      last = { kind: 'failure', status: 499, message: 'the client went away', flags: ['DC'], tries: attempt + 1, endpoint: picked.endpoint };
      break;
    }
    const flag = FLAG_OF[outcome.kind] ?? 'UC';
    const timedOut = outcome.kind === 'timeout';
    last = {
      kind: 'failure',
      status: timedOut ? 504 : 503,
      message: timedOut ? 'upstream request timeout' : `upstream connect error or disconnect/reset before headers. reset reason: ${outcome.kind}${error ? `, ${error}` : ''}`,
      flags: [flag],
      tries: attempt + 1,
      endpoint: picked.endpoint,
    };
    if (!again) {
      if (retriable) last.flags.push('URX');
      break;
    }
  }
  releaseAll();
  return last ?? { kind: 'failure', status: 503, message: 'no healthy upstream', flags: ['UH'], tries: 0 };
}
