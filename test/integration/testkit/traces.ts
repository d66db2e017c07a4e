// The control plane's embedded OTLP receiver and trace store on a loopback port, for tests that
// point ztunnel or a waypoint at it (--otlp-endpoint) and look at the spans that arrive.
import { startAdminServer } from '../../../lib/admin/server.js';
import type { StoredSpan } from '../../../lib/telemetry/span.js';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { traceRoutes } from '../../../control/traces/routes.js';
import { TraceStore } from '../../../control/traces/store.js';

export interface Scope {
  teardown(fn: () => unknown): void;
}

export interface Receiver {
  /** http://127.0.0.1:<port>/v1/traces */
  url: string;
  /** http://127.0.0.1:<port> */
  base: string;
  store: TraceStore;
  /** Every span received so far. */
  spans(): StoredSpan[];
  /** Waits until `pick` finds spans (the exporters batch every second). */
  waitFor(what: string, pick: (spans: StoredSpan[]) => StoredSpan[], timeoutMs?: number): Promise<StoredSpan[]>;
}

export async function startReceiver(t: Scope): Promise<Receiver> {
  const store = new TraceStore();
  const server = await startAdminServer({ name: 'otlp', host: '127.0.0.1', port: 0, routes: traceRoutes(store), log: silentLogger() });
  t.teardown(() => server.close());
  const spans = (): StoredSpan[] => store.findTraces({ limit: 1_000_000 }).flatMap((x) => x.spans);
  return {
    url: `http://${server.address}/v1/traces`,
    base: `http://${server.address}`,
    store,
    spans,
    async waitFor(what, pick, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = pick(spans());
        if (found.length > 0) return found;
        if (Date.now() > deadline) throw new Error(`no spans for ${what} within ${timeoutMs} ms; received: ${JSON.stringify(spans().slice(-5).map((s) => ({ name: s.name, service: s.service, traceId: s.traceId })))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}
