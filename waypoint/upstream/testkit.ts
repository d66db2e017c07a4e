// Helpers for the upstream policy tests: a seeded random source, endpoints, a clock that moves
// only when told to, and the generated messages built from plain objects.
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  ConnectionPoolSchema,
  LoadBalancerSchema,
  OutlierDetectionSchema,
  type ConnectionPool,
  type LoadBalancer,
  type OutlierDetection,
} from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import type { UpstreamEndpoint } from './balancer.js';


export function endpoint(id: string, o: Partial<UpstreamEndpoint> = {}): UpstreamEndpoint {
  return { id, address: `10.244.0.${id.length}`, port: 8080, weight: 1, labels: {}, active: 0, ...o };
}

export function endpoints(n: number, o: Partial<UpstreamEndpoint> = {}): UpstreamEndpoint[] {
  return Array.from({ length: n }, (_, i) => endpoint(`ep-${i}`, { address: `10.244.1.${i + 1}`, ...o }));
}

export class TestClock {
  constructor(public ms = 1_000_000) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}

export const loadBalancer = (init: MessageInitShape<typeof LoadBalancerSchema>): LoadBalancer => create(LoadBalancerSchema, init);
export const connectionPool = (init: MessageInitShape<typeof ConnectionPoolSchema>): ConnectionPool => create(ConnectionPoolSchema, init);
type DurationInit = { seconds: bigint; nanos: number };

/** The fields of an OutlierDetection, all optional (proto3 zero values when left out). */
export interface OutlierInit {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  interval?: DurationInit;
  baseEjectionTime?: DurationInit;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export const outlierDetection = (init: OutlierInit): OutlierDetection => create(OutlierDetectionSchema, init);

/** How often each endpoint id was picked. */
export function tally(ids: Iterable<string | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  return out;
}
