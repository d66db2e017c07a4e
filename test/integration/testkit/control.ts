// Shared by the control plane's integration tests: a control plane on loopback over a File store
// in a temp dir, log capture, TLS xDS clients that record every response, and polling waits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { AddressSchema, type Address } from '../../../lib/proto/gen/istio/workload/workload_pb.js';
import { AuthorizationSchema, type Authorization } from '../../../lib/proto/gen/istio/security/authorization_pb.js';
import { openStore } from '../../../lib/store/index.js';
import type { ClusterStore } from '../../../lib/store/types.js';
import { messageDecoder, ResourceCache } from '../../../lib/xds/cache.js';
import { XdsClient } from '../../../lib/xds/client.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from '../../../lib/xds/types.js';
import { startControlPlane, type ControlPlane } from '../../../control/app.js';
import { resolveConfig, type Config } from '../../../control/config.js';

export interface Scope {
  teardown(fn: () => unknown): void;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Log lines as objects, for asserting what the control plane said. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly logger: Logger;
  constructor() {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }
  find(msg: string | RegExp): Array<Record<string, unknown>> {
    return this.lines.filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
  }
}

export interface Cluster {
  stateDir: string;
  store: ClusterStore;
  log: LogCapture;
  config: Config;
  plane: ControlPlane;
  /** Stops the control plane and starts a new one on the same directories and gRPC port. */
  restart(): Promise<ControlPlane>;
}

export async function startCluster(t: Scope, tag: string, populate: (store: ClusterStore) => Promise<void>): Promise<Cluster> {
  const stateDir = mkdtempSync(path.join(tmpdir(), `ambit-${tag}-${process.pid}-`));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const log = new LogCapture();
  const config = resolveConfig(
    { stateDir, grpcAddress: '127.0.0.1:0', monitoringAddress: '127.0.0.1:0', readinessAddress: '127.0.0.1:0', dashboardAddress: '127.0.0.1:0', debounceQuiet: '20ms', debounceMax: '200ms' },
    {},
  );
  const store = openStore(config.storeDir);
  t.teardown(() => store.close());
  await populate(store);
  const cluster: Cluster = {
    stateDir,
    store,
    log,
    config,
    plane: await startControlPlane(config, { logger: log.logger }),
    restart: async () => {
      await cluster.plane.close();
      const port = Number(cluster.plane.addresses.grpc.split(':').pop());
      cluster.plane = await startControlPlane({ ...config, grpc: { ...config.grpc, port } }, { logger: log.logger });
      return cluster.plane;
    },
  };
  t.teardown(() => cluster.plane.close());
  return cluster;
}

export interface Response {
  upserts: string[];
  removals: string[];
}

/** An XdsClient over TLS (trusting the published root) with decoding caches and response logs. */
export class TestClient {
  readonly client: XdsClient;
  readonly addresses = new ResourceCache<Address>(messageDecoder(AddressSchema));
  readonly authorizations = new ResourceCache<Authorization>(messageDecoder(AuthorizationSchema));
  /** Every response per type, as received (accepted or not). */
  readonly responses = new Map<string, Response[]>([[TYPE_ADDRESS, []], [TYPE_AUTHORIZATION, []]]);
  /** Throw (NACK) for an Address response containing a resource for which this returns true. */
  rejectAddress: (name: string) => boolean = () => false;

  /** `token` '' sends no credential. */
  constructor(t: Scope, address: string, rootPem: string, token: string, nodeId: string, nodeName = 'node-1') {
    const record = (typeUrl: string, upserts: ReadonlyArray<{ name: string }>, removals: readonly string[]): void => {
      this.responses.get(typeUrl)!.push({ upserts: upserts.map((r) => r.name).sort(), removals: [...removals].sort() });
    };
    this.client = new XdsClient({
      address,
      credentials: grpc.credentials.createSsl(Buffer.from(rootPem)),
      node: { id: `ztunnel~10.0.0.1~${nodeId}.istio-system~istio-system.svc.cluster.local`, metadata: { NODE_NAME: nodeName } },
      metadata: () => {
        const md = new grpc.Metadata();
        if (token !== '') md.set('authorization', `Bearer ${token}`);
        return md;
      },
      backoff: { initialMs: 50, maxMs: 300 },
      types: [
        {
          typeUrl: TYPE_ADDRESS,
          handler: (up, rm) => {
            record(TYPE_ADDRESS, up, rm);
            const bad = up.find((r) => this.rejectAddress(r.name));
            if (bad) throw new Error(`test client refuses ${bad.name}`);
            this.addresses.apply(up, rm);
          },
        },
        {
          typeUrl: TYPE_AUTHORIZATION,
          handler: (up, rm) => {
            record(TYPE_AUTHORIZATION, up, rm);
            this.authorizations.apply(up, rm);
          },
        },
      ],
    });
    t.teardown(() => this.client.close());
    this.client.start();
  }

  get addressResponses(): Response[] {
    return this.responses.get(TYPE_ADDRESS)!;
  }

  names(): string[] {
    return [...this.addresses.entries()].map(([n]) => n).sort();
  }
}

export async function httpGet(address: string, pathName: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${pathName}`);
  return { status: res.status, body: await res.text() };
}
