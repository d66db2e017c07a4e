/**
 * The one interface through which every component reads and writes cluster state.
 * Objects are Kubernetes-shaped; the File back end stores them as YAML in a state directory, the
 * Kubernetes back end talks to an API server.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}

/** Identifies a kind, e.g. `{ apiVersion: 'v1', kind: 'Pod' }`. */
export interface Kind {
  apiVersion: string;
  kind: string;
}

export interface ObjectKey extends Kind {
  namespace?: string;
  name: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export interface ListOptions {
  namespace?: string;
  /** Equality-based label selector, e.g. `{ app: 'echo' }`. */
  labelSelector?: Record<string, string>;
  /**
   * Equality on fields by dotted path, e.g. `{ 'spec.nodeName': 'node-1' }`. The API server
   * supports only some fields per kind (Pods: spec.nodeName, status.phase, …); the other back ends
   * match any path.
   */
  fieldSelector?: Record<string, string>;
}

export interface WatchOptions extends ListOptions {
  /**
   * Deliver events only after this resource version. Without it, the watch starts with an ADDED
   * event for every existing object (like an informer's initial list).
   */
  resourceVersion?: string;
  /**
   * Called when the watch cannot go on; it is closed afterwards. `Gone`: `resourceVersion` is older
   * than the history the store keeps (list again and watch without it). Without a handler the
   * store logs the error.
   */
  onError?: (err: StoreError) => void;
}

export interface Watch {
  /** Stops delivering events and releases resources. */
  close(): void;
}

/**
 * A patch is a JSON merge patch (RFC 7386): objects merge, `null` deletes a key, arrays replace.
 * `status` is patched like any other field.
 */
export type MergePatch = Record<string, unknown>;

/** Kubernetes' status reasons; `Gone` is a watch from a resourceVersion that is too old. */
export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid' | 'Gone';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface ClusterStore {
  list<T extends KubeObject = KubeObject>(kind: Kind, opts?: ListOptions): Promise<T[]>;
  get<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined>;
  /** Fails with `AlreadyExists` if the object exists. Sets uid, resourceVersion, creationTimestamp. */
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** Creates or replaces (like `kubectl apply` of a whole object); keeps uid and creationTimestamp. */
  apply<T extends KubeObject>(obj: T): Promise<T>;
  /**
   * Merge-patches an existing object. With `resourceVersion`, fails with `Conflict` unless the
   * stored object is still at that version.
   */
  patch<T extends KubeObject = KubeObject>(key: ObjectKey, patch: MergePatch, opts?: { resourceVersion?: string }): Promise<T>;
  /** Deletes; returns the deleted object, or undefined if it did not exist. */
  delete<T extends KubeObject = KubeObject>(key: ObjectKey): Promise<T | undefined>;
  watch<T extends KubeObject = KubeObject>(kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Watch;
  close(): Promise<void>;
}
