// Connects ztunnel's pod registry to the node agent over ZDS. Like Istio's state manager, a
// snapshot is authoritative: after SnapshotSent, pods that were neither added nor kept in it are
// removed (the agent forgot them while ztunnel was disconnected).
import { ZdsClient } from '../../lib/zds/client.js';
import type { ZdsWorkload } from '../../lib/zds/messages.js';
import type { BackoffOptions } from '../../lib/xds/types.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';

/** What the ztunnel app implements: start, keep and drain the proxies of one pod. */
export interface PodRegistry {
  /** Idempotent; a different netns for a known uid replaces the pod's proxies. */
  addPod(uid: string, info: ZdsWorkload, netnsPath: string): Promise<void> | void;
  /** The agent still knows this pod but sent no netns: keep whatever exists for it. */
  keepPod(uid: string): Promise<void> | void;
  /** Drain and close the pod's proxies; a no-op for an unknown uid. */
  delPod(uid: string): Promise<void> | void;
  /** The snapshot is complete and stale pods are already gone. */
  snapshotDone(): Promise<void> | void;
}

export interface ZtunnelZdsOptions {
  socketPath: string;
  registry: PodRegistry;
  backoff?: BackoffOptions;
  logger?: Logger;
}

export class ZtunnelZds {
  private readonly client: ZdsClient;
  private readonly log: Logger;
  /** Pods handed to the registry and not deleted since, across connections. */
  private readonly known = new Set<string>();
  /** Pods mentioned in the snapshot being received; undefined once it is complete. */
  private seen: Set<string> | undefined;
  private isReady = false;
  private readonly readyPromise: Promise<void>;
  private markReady!: () => void;

  constructor(private readonly opts: ZtunnelZdsOptions) {
    this.log = opts.logger ?? silentLogger();
    this.readyPromise = new Promise((resolve) => (this.markReady = resolve));
    const registry = opts.registry;
    this.client = new ZdsClient({
      socketPath: opts.socketPath,
      logger: this.log,
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      handler: {
        onAdd: async (w, netnsPath) => {
          this.known.add(w.uid);
          this.seen?.add(w.uid);
          await registry.addPod(w.uid, w, netnsPath);
        },
        onKeep: async (uid) => {
          this.seen?.add(uid);
          await registry.keepPod(uid);
        },
        onDel: async (uid) => {
          this.known.delete(uid);
          await registry.delPod(uid);
        },
        onSnapshotSent: () => this.finishSnapshot(),
      },
    });
    this.client.on('connected', () => (this.seen = new Set()));
  }

  start(): void {
    this.client.start();
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** True once the first snapshot was received: ztunnel's readiness depends on it. */
  get ready(): boolean {
    return this.isReady;
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Uids the registry was given and not told to delete. */
  knownPods(): string[] {
    return [...this.known];
  }

  private async finishSnapshot(): Promise<void> {
    const seen = this.seen ?? new Set<string>();
    this.seen = undefined;
    const failures: string[] = [];
    for (const uid of [...this.known]) {
      if (seen.has(uid)) continue;
      this.known.delete(uid);
      try {
        await this.opts.registry.delPod(uid);
        this.log.info({ uid }, 'ZDS: removed a pod the snapshot no longer lists');
      } catch (e) {
        failures.push(`${uid}: ${(e as Error).message}`);
      }
    }
    await this.opts.registry.snapshotDone();
    if (!this.isReady) {
      this.isReady = true;
      this.markReady();
    }
    if (failures.length) throw new Error(`removing stale pods failed: ${failures.join('; ')}`);
  }
}
