import type { Any } from '@bufbuild/protobuf/wkt';

/** Istio's workload discovery type URLs, as ztunnel subscribes to them. */
export const TYPE_ADDRESS = 'type.googleapis.com/istio.workload.Address';
export const TYPE_AUTHORIZATION = 'type.googleapis.com/istio.security.Authorization';

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
