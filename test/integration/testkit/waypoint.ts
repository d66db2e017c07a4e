// Test bed for the waypoint in process, on loopback: a test CA, a fake control plane (the real
// xDS server serving resources the test builds), upstream "pods" (HBONE servers on their own
// loopback addresses in front of HTTP/1.1 and gRPC echo apps), and an HBONE client standing in
// for ztunnel (a local port per service VIP:port whose connections become tunnels to the waypoint).
import http from 'node:http';
import net from 'node:net';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import ipaddr from 'ipaddr.js';
import type { CaClient } from '../../../lib/ca-client/ca-client.js';
import { bridge } from '../../../lib/hbone/copy.js';
import { HbonePool } from '../../../lib/hbone/pool.js';
import { HboneServer } from '../../../lib/hbone/server.js';
import type { Credentials } from '../../../lib/hbone/tls.js';
import { generateCsr } from '../../../lib/identity/csr.js';
import type { TestCa } from '../../../lib/identity/testkit.js';
import { DestinationPolicySchema } from '../../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { RouteConfigSchema, type RouteSchema } from '../../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { AddressSchema, AppProtocol, TunnelProtocol, type ServiceSchema, type WorkloadSchema } from '../../../lib/proto/gen/istio/workload/workload_pb.js';
import { MemorySource } from '../../../lib/xds/source.js';
import { TYPE_ADDRESS, TYPE_DESTINATION_POLICY, TYPE_L7_AUTHORIZATION, TYPE_RATE_LIMIT, TYPE_ROUTE_CONFIG } from '../../../lib/xds/types.js';

export interface Scope {
  teardown(fn: () => unknown): void;
}


/** A CaClient that signs with the test CA, as the control plane's certificate service would. */
export function testCaClient(ca: TestCa): CaClient {
  return { createCertificate: async (req) => (await ca.sign(req.csrPem)).certChain };
}

export async function issue(ca: TestCa, identity: string): Promise<Credentials> {
  const csr = await generateCsr(identity);
  const { certChain } = await ca.sign(csr.csrPem);
  return { certChainPem: [certChain[0]!], keyPem: csr.privateKeyPem, rootsPem: [ca.rootPem] };
}

/** Distinct random loopback addresses (127.x.y.z), so several test runs on one machine do not collide on :15008. */
export function loopbackIps(n: number, random = Math.random): string[] {
  const out = new Set<string>();
  while (out.size < n) out.add(`127.${1 + Math.floor(random() * 250)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 250)}`);
  return [...out];
}

const ipBytes = (ip: string): Uint8Array => Uint8Array.from(ipaddr.parse(ip).toByteArray());

// === resources ===

export class FakeControlPlane {
  readonly sources = {
    [TYPE_ADDRESS]: new MemorySource(),
    [TYPE_ROUTE_CONFIG]: new MemorySource(),
    [TYPE_DESTINATION_POLICY]: new MemorySource(),
    [TYPE_L7_AUTHORIZATION]: new MemorySource(),
    [TYPE_RATE_LIMIT]: new MemorySource(),
  };

  service(s: MessageInitShape<typeof ServiceSchema> & { namespace: string; hostname: string }): void {
    this.sources[TYPE_ADDRESS].set(`${s.namespace}/${s.hostname}`, { resource: anyPack(AddressSchema, create(AddressSchema, { type: { case: 'service', value: s } })) });
  }

  workload(w: MessageInitShape<typeof WorkloadSchema> & { uid: string }): void {
    this.sources[TYPE_ADDRESS].set(w.uid, { resource: anyPack(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { tunnelProtocol: TunnelProtocol.HBONE, ...w } } })) });
  }

  routes(namespace: string, hostname: string, waypoint: string, routes: MessageInitShape<typeof RouteSchema>[]): void {
    this.sources[TYPE_ROUTE_CONFIG].set(`${namespace}/${hostname}`, { resource: anyPack(RouteConfigSchema, create(RouteConfigSchema, { name: `${namespace}/${hostname}`, hostname, namespace, waypoint, routes })) });
  }

  destinationPolicy(d: MessageInitShape<typeof DestinationPolicySchema> & { namespace: string; hostname: string }): void {
    this.sources[TYPE_DESTINATION_POLICY].set(`${d.namespace}/${d.hostname}`, { resource: anyPack(DestinationPolicySchema, create(DestinationPolicySchema, { name: `${d.namespace}/${d.hostname}`, ...d })) });
  }
}

export function serviceResource(o: { name: string; namespace: string; vip: string; ports: Array<[number, number, AppProtocol?]> }): MessageInitShape<typeof ServiceSchema> & { namespace: string; hostname: string } {
  return {
    name: o.name,
    namespace: o.namespace,
    hostname: `${o.name}.${o.namespace}.svc.cluster.local`,
    addresses: [{ network: '', address: ipBytes(o.vip) }],
    ports: o.ports.map(([servicePort, targetPort, appProtocol]) => ({ servicePort, targetPort, appProtocol: appProtocol ?? AppProtocol.UNKNOWN })),
  };
}

export function workloadResource(o: { name: string; namespace: string; ip: string; serviceAccount: string; app: string; version: string; services: Record<string, Array<[number, number]>> }): MessageInitShape<typeof WorkloadSchema> & { uid: string } {
  return {
    uid: `Kubernetes//Pod/${o.namespace}/${o.name}`,
    name: o.name,
    namespace: o.namespace,
    addresses: [ipBytes(o.ip)],
    serviceAccount: o.serviceAccount,
    canonicalName: o.app,
    canonicalRevision: o.version,
    workloadName: `${o.app}-${o.version}`,
    clusterId: 'Kubernetes',
    services: Object.fromEntries(Object.entries(o.services).map(([k, ps]) => [k, { ports: ps.map(([servicePort, targetPort]) => ({ servicePort, targetPort })) }])),
  };
}

// === pods ===

export interface EchoPod {
  name: string;
  ip: string;
  identity: string;
  hbone: HboneServer;
  /** Requests the HTTP/1.1 app answered, by path. */
  hits: Map<string, number>;
  /** Authorities the HBONE server was asked for. */
  authorities: string[];
  /** The traceparent of each CONNECT, as the next hop's ztunnel would read it. */
  tunnelTraceparents: string[];
}

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

export const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

/**
 * A pod: HBONE on `<ip>:15008` (its own certificate), forwarding `<ip>:8080` to an HTTP/1.1 echo
 * app and `<ip>:9090` to a gRPC echo app. Paths: `/flaky` answers 503 to every third request,
 * `/slow` answers after 1 s; anything else echoes the request as JSON. gRPC `fail:<code>` fails
 * with that status.
 */
export async function startEchoPod(t: Scope, ca: TestCa, o: { name: string; ip: string; identity: string }): Promise<EchoPod> {
  const hits = new Map<string, number>();
  const app = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const answer = (status: number): void => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-pod': o.name });
        res.end(JSON.stringify({ pod: o.name, method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(body).toString() }));
      };
      if (path === '/flaky' && n % 3 === 0) return answer(503);
      if (path === '/slow') return void setTimeout(() => answer(200), 1000).unref();
      answer(200);
    });
  });
  // A short keep-alive timeout, so idle upstream connections close while the waypoint holds them.
  app.keepAliveTimeout = 300;
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => (app.closeAllConnections(), app.close(() => r()))));
  const grpcServer = new grpc.Server();
  grpcServer.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      const m = /^fail:(\d+)$/.exec(text);
      if (m) return cb({ code: Number(m[1]), details: `asked to fail with ${m[1]}` });
      cb(null, Buffer.from(`${o.name}:${text}`));
    },
  });
  const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.teardown(() => grpcServer.forceShutdown());
  const appPort = (app.address() as net.AddressInfo).port;
  const creds = await issue(ca, o.identity);
  const authorities: string[] = [];
  const tunnelTraceparents: string[] = [];
  const hbone = new HboneServer({
    credentials: () => creds,
    onConnect: async (req) => {
      authorities.push(req.authority);
      if (req.traceparent) tunnelTraceparents.push(req.traceparent);
      if (req.host !== o.ip) return { status: 503, reason: `${req.host} is not this pod` };
      const port = req.port === 8080 ? appPort : req.port === 9090 ? grpcPort : undefined;
      if (port === undefined) return { status: 503, reason: `nothing listens on ${req.port}` };
      const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      await new Promise<void>((resolve, reject) => (s.once('connect', resolve), s.once('error', reject)));
      return { status: 200, upstream: s };
    },
  });
  await hbone.listen({ host: o.ip, port: 15008 });
  t.teardown(() => hbone.close());
  return { name: o.name, ip: o.ip, identity: o.identity, hbone, hits, authorities, tunnelTraceparents };
}

// === the client side ===

/**
 * What ztunnel does for a client bound to a waypoint: every TCP connection to the returned local
 * port becomes an HBONE tunnel to the waypoint with `:authority` = the service VIP:port.
 */
export async function startClientTunnel(t: Scope, o: { pool: HbonePool; credentials: Credentials; identity: string; waypoint: string; waypointIdentity: string; authority: string; clientIp: string }): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sock.on('error', () => {});
    o.pool
      .connect({
        sourceIdentity: o.identity,
        destinationIdentities: [o.waypointIdentity],
        destination: o.waypoint,
        authority: o.authority,
        credentials: o.credentials,
        forwarded: `for=${o.clientIp}`,
      })
      .then(
        (tunnel) => void bridge(sock, tunnel),
        () => sock.destroy(),
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

/** Sums the series of `name` whose labels include `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const ls = line.slice(name.length + 1, close);
    const got: Record<string, string> = {};
    for (const m of ls.matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

export { HbonePool };
