// The control plane's Prometheus metrics, with istiod's names where it has them (pilot_* for
// discovery, citadel_* for the CA). One registry per control plane, so tests can run several.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../lib/telemetry/process-metrics.js';
import type { XdsServerEvents } from '../../lib/xds/server.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from '../../lib/xds/types.js';
import type { CreateCertificateResult } from '../ca/service.js';
import type { CommitInfo } from '../xds/model-sync.js';

/** istiod's short type names for the workload discovery types, as its `type` label uses them. */
export function shortType(typeUrl: string): string {
  if (typeUrl === TYPE_ADDRESS) return 'wds';
  if (typeUrl === TYPE_AUTHORIZATION) return 'wads';
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1).toLowerCase();
}

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ControlMetrics {
  readonly registry = new Registry();
  private readonly pushes: Counter<'type'>;
  private readonly convergence: Histogram<'type'>;
  private readonly rejects: Counter<'type'>;
  private readonly modelBuild: Histogram<'scope'>;
  private readonly csrCount: Counter;
  private readonly issued: Counter;
  private readonly authFailures: Counter;
  private readonly csrParseErrors: Counter;
  private readonly signErrors: Counter;
  private readonly refusals: Counter<'reason'>;
  private readonly xdsRefused: Counter<'reason'>;

  constructor(connectedClients: () => number, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    this.pushes = new Counter({ name: 'pilot_xds_pushes', help: 'xDS responses sent, by type', labelNames: ['type'], registers });
    this.convergence = new Histogram({
      name: 'pilot_proxy_convergence_time',
      help: 'Seconds from a configuration change to the push that carries it',
      labelNames: ['type'],
      buckets: SECONDS,
      registers,
    });
    this.rejects = new Counter({ name: 'pilot_total_xds_rejects', help: 'xDS responses rejected (NACK) by clients, by type', labelNames: ['type'], registers });
    new Gauge({ name: 'pilot_xds', help: 'Connected xDS clients', registers, collect() { this.set(connectedClients()); } });
    this.modelBuild = new Histogram({ name: 'ambit_model_rebuild_seconds', help: 'Time to rebuild and encode the model after changes; scope=full when the context was rebuilt', labelNames: ['scope'], buckets: SECONDS, registers });
    this.xdsRefused = new Counter({ name: 'ambit_xds_unauthenticated_streams_total', help: 'xDS streams refused for a missing or invalid credential, by reason', labelNames: ['reason'], registers });
    this.csrCount = new Counter({ name: 'citadel_server_csr_count', help: 'Certificate signing requests received', registers });
    this.issued = new Counter({ name: 'citadel_server_success_cert_issuance_count', help: 'Certificates issued', registers });
    this.authFailures = new Counter({ name: 'citadel_server_authentication_failure_count', help: 'Certificate requests whose caller could not be authenticated', registers });
    this.csrParseErrors = new Counter({ name: 'citadel_server_csr_parsing_err_count', help: 'Certificate requests with an invalid CSR', registers });
    this.signErrors = new Counter({ name: 'citadel_server_csr_sign_err_count', help: 'Certificate requests that failed while signing', registers });
    this.refusals = new Counter({ name: 'citadel_server_csr_refused_count', help: 'Certificate requests refused, by reason (the CaError code)', labelNames: ['reason'], registers });
  }

  /** Hooks for the XdsServer. */
  xdsEvents(): XdsServerEvents {
    return {
      pushed: (_s, p) => {
        const type = shortType(p.typeUrl);
        this.pushes.inc({ type });
        if (p.sinceChangeMs !== undefined) this.convergence.observe({ type }, p.sinceChangeMs / 1000);
      },
      nacked: (_s, n) => this.rejects.inc({ type: shortType(n.typeUrl) }),
    };
  }

  xdsRefusedStream(reason: string): void {
    this.xdsRefused.inc({ reason });
  }

  modelCommitted(info: CommitInfo): void {
    this.modelBuild.observe({ scope: info.changes.contextRebuilt ? 'full' : 'pods' }, info.ms / 1000);
  }

  certificateResult(r: CreateCertificateResult): void {
    this.csrCount.inc();
    if (r.ok) {
      this.issued.inc();
      return;
    }
    this.refusals.inc({ reason: r.error.code });
    if (r.error.kind === 'unauthenticated') this.authFailures.inc();
    else if (r.error.code.startsWith('CSR_')) this.csrParseErrors.inc();
    else if (r.error.kind === 'internal') this.signErrors.inc();
  }
}
