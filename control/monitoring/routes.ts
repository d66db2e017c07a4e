// The HTTP routes: /metrics and /debug/* (loopback peers only) on 15014, /healthz/ready on 15021.
import type { XdsServer } from '../../lib/xds/server.js';
import { describeCaller, type Caller } from '../ca/authn.js';
import type { Config } from '../config.js';
import type { Informer } from '../xds/informer.js';
import type { ModelSync } from '../xds/model-sync.js';
import { json, loopbackOnly, metricsRoute, readinessRoute, text, type Handler, type Routes } from '../../lib/admin/routes.js';
import type { ControlMetrics } from './metrics.js';

export interface ReadinessDeps {
  ready: () => boolean;
  informers: readonly Informer[];
}

export function readinessRoutes(d: ReadinessDeps): Routes {
  const route = readinessRoute(() => {
    if (d.ready()) return { ready: true, reasons: [] };
    const waiting = d.informers.filter((i) => !i.hasSynced).map((i) => i.kind.kind);
    return { ready: false, reasons: [waiting.length ? `still loading ${waiting.join(', ')} from the store` : 'the gRPC server is not listening yet'] };
  }, 'ok\n');
  return { '/healthz/ready': route, '/ready': route };
}

export interface DebugDeps {
  metrics: ControlMetrics;
  model: ModelSync;
  xds: XdsServer;
  callerOf: (streamId: number) => Caller | undefined;
  ready: () => boolean;
  config: Config;
}

/** `/debug/model?namespace=NS` limits the dump to one namespace. */
function modelDump(d: DebugDeps, url: URL): unknown {
  const m = d.model.model;
  const ns = url.searchParams.get('namespace');
  const keep = <T extends { namespace: string }>(list: T[]): T[] => (ns ? list.filter((x) => x.namespace === ns) : list);
  const view = m.view();
  return {
    workloads: keep(view.workloads),
    services: keep(view.services),
    authorizations: keep(view.authorizations),
    problems: m.problems,
    policyStatus: keep([...m.policyStatus.values()]),
    serviceStatus: keep([...m.serviceStatus.values()]),
    resources: { addresses: d.model.addresses.size, authorizations: d.model.authorizations.size },
    commits: d.model.commits,
  };
}

const DEBUG_HINT = 'run curl inside the control plane\'s network namespace, or through `kubectl port-forward` or the forward `ambit up` prints';

/** `/metrics` and `/ready` answer anyone; `/debug/*` (the model, callers, config) loopback peers only. */
export function debugRoutes(d: DebugDeps): Routes {
  const local = (h: Handler): Handler => loopbackOnly(h, DEBUG_HINT);
  return {
    '/metrics': metricsRoute(d.metrics.registry),
    '/debug/model': local((url) => json(modelDump(d, url))),
    '/debug/connections': local(() =>
      json(
        d.xds.streams().map((s) => {
          const caller = d.callerOf(s.id);
          return { ...s, caller: caller ? describeCaller(caller) : undefined, connectedAt: new Date(s.connectedAt).toISOString() };
        }),
      ),
    ),
    '/debug/config': local(() => json(d.config)),
    '/ready': () => (d.ready() ? text('ok\n') : text('not ready\n', 503)),
  };
}
