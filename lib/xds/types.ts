import type { Any } from '@bufbuild/protobuf/wkt';

/** Istio's workload discovery type URLs, as ztunnel subscribes to them. */
export const TYPE_ADDRESS = 'type.googleapis.com/istio.workload.Address';
export const TYPE_AUTHORIZATION = 'type.googleapis.com/istio.security.Authorization';

/** Ambit's own L7 types (lib/proto/src/ambit/l7/v1), which waypoints subscribe to and ztunnel does not. */
export const TYPE_ROUTE_CONFIG = 'type.googleapis.com/ambit.l7.v1.RouteConfig';
export const TYPE_DESTINATION_POLICY = 'type.googleapis.com/ambit.l7.v1.DestinationPolicy';
export const TYPE_L7_AUTHORIZATION = 'type.googleapis.com/ambit.l7.v1.L7Authorization';
export const TYPE_RATE_LIMIT = 'type.googleapis.com/ambit.l7.v1.RateLimit';
/** Every type a waypoint subscribes to. */
export const WAYPOINT_TYPES: readonly string[] = [TYPE_ROUTE_CONFIG, TYPE_DESTINATION_POLICY, TYPE_L7_AUTHORIZATION, TYPE_RATE_LIMIT];

/** ztunnel accepts xDS messages up to 200 MiB; the default gRPC limit (4 MiB) is far too small for a cluster. */
export const XDS_MAX_MESSAGE_BYTES = 200 * 1024 * 1024;

/**
 * One resource as the server holds it. `resource` is either a packed Any or the already-encoded
 * message bytes (then packed with the stream's type URL): encoding once and sending the same bytes
 * to every client keeps a push to many clients cheap.
 */
export interface VersionedResource {
  readonly version: string;
  readonly resource: Any | Uint8Array;
  readonly aliases?: readonly string[];
}

/**
 * The current resources of one type URL, supplied by the model (control/). The server reads
 * `snapshot()` whenever it pushes, so the map must reflect the latest state; it never mutates it.
 */
export interface ResourceSource {
  snapshot(): ReadonlyMap<string, VersionedResource>;
  /**
   * Registers a listener called after resources changed. `names` lists the changed (added,
   * updated or removed) resources when the source knows them; undefined means "anything may have
   * changed" and costs a full comparison per client. Returns a function that unregisters.
   */
  onChange(listener: (names?: readonly string[]) => void): () => void;
}

/** Debounce of pushes after source changes: wait for `quietMs` without change, but never longer than `maxMs`. */
export interface DebounceOptions {
  quietMs: number;
  maxMs: number;
}

/** Reconnect backoff: exponential from `initialMs` by `multiplier`, capped at `maxMs`, ± `jitter` (0..1). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  multiplier: number;
  jitter: number;
}
