// The node agent's Prometheus metrics. One registry per agent so that tests can run several.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../../lib/telemetry/process-metrics.js';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export type Operation = 'enrol' | 'unenrol' | 'repair';
export type Source = 'cni' | 'live' | 'restart';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly enrolled: Gauge<'state'>;
  readonly failures: Counter<'operation' | 'reason'>;
  readonly ruleSeconds: Histogram<'operation'>;
  readonly enrolSeconds: Histogram<'source'>;
  readonly enrolments: Counter<'source'>;
  readonly unenrolments: Counter<'reason'>;
  readonly repaired: Counter;
  readonly ztunnels: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectProcessMetrics(this.registry);
    this.enrolled = new Gauge({ name: 'ambit_cni_enrolled_pods', help: 'Pods of this node in ambient, by redirection state (pending: waiting for ztunnel)', labelNames: ['state'], registers });
    this.failures = new Counter({ name: 'ambit_cni_enrol_failures_total', help: 'Failed enrolments and unenrolments, by reason', labelNames: ['operation', 'reason'], registers });
    this.ruleSeconds = new Histogram({ name: 'ambit_cni_rule_apply_seconds', help: 'Time to apply or remove the in-pod redirection', labelNames: ['operation'], buckets: SECONDS, registers });
    this.enrolSeconds = new Histogram({ name: 'ambit_cni_enrol_seconds', help: 'Time to enrol a pod: rules, probe SNAT, ztunnel ack, annotations', labelNames: ['source'], buckets: SECONDS, registers });
    this.enrolments = new Counter({ name: 'ambit_cni_enrolments_total', help: 'Pods enrolled, by what triggered it (cni: CNI ADD, live: label change, restart: adopted at start)', labelNames: ['source'], registers });
    this.unenrolments = new Counter({ name: 'ambit_cni_unenrolments_total', help: 'Pods taken out of ambient, by reason', labelNames: ['reason'], registers });
    this.repaired = new Counter({ name: 'ambit_cni_pods_repaired_total', help: 'Enrolled pods whose redirection was found missing or partial and re-applied', registers });
    this.ztunnels = new Gauge({ name: 'ambit_cni_ztunnel_connections', help: 'ztunnel connections on the ZDS socket', registers });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
