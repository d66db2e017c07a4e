// A delta ADS client for the benchmark that does not decode resources: it reads only the fields it
// needs (type, nonce, and the names of small responses) and ACKs. It shows what the control plane
// delivers when clients are not starved of CPU by decoding, as they are when 50 XdsClients share
// the benchmark machine with the control plane.
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { DeltaDiscoveryRequestSchema, type DeltaDiscoveryRequest } from '../../lib/proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { XDS_MAX_MESSAGE_BYTES } from '../../lib/xds/types.js';

const PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
/** Names are read only from responses this small (pushes of a change, not the initial one). */
const NAMES_UP_TO = 100;

export interface RawResponse {
  typeUrl: string;
  nonce: string;
  resources: number;
  names: string[];
}

/** Reads a DeltaDiscoveryResponse's type_url (4), nonce (5) and resources (2), skipping the rest. */
export function scanResponse(buf: Uint8Array): RawResponse {
  const r = new BinaryReader(buf);
  const out: RawResponse = { typeUrl: '', nonce: '', resources: 0, names: [] };
  const bodies: Uint8Array[] = [];
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 4) out.typeUrl = r.string();
    else if (field === 5) out.nonce = r.string();
    else if (field === 2) {
      out.resources++;
      if (out.resources <= NAMES_UP_TO) bodies.push(r.bytes());
      else r.skip(wt);
    } else r.skip(wt);
  }
  if (out.resources <= NAMES_UP_TO) {
    for (const b of bodies) {
      const rr = new BinaryReader(b);
      while (rr.pos < rr.len) {
        const [f, w] = rr.tag();
        if (f === 3) out.names.push(rr.string());
        else rr.skip(w);
      }
    }
  }
  return out;
}

export class RawAdsClient {
  readonly synced: Promise<void>;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, Buffer>;

  constructor(address: string, rootPem: string, token: string, nodeId: string, typeUrls: string[], onResponse: (r: RawResponse) => void) {
    this.client = new grpc.Client(address, grpc.credentials.createSsl(Buffer.from(rootPem)), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.max_receive_message_length': XDS_MAX_MESSAGE_BYTES,
    });
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    this.call = this.client.makeBidiStreamRequest(PATH, (q: DeltaDiscoveryRequest) => Buffer.from(toBinary(DeltaDiscoveryRequestSchema, q)), (b: Buffer) => b, md);
    const pending = new Set(typeUrls);
    this.synced = new Promise((resolve, reject) => {
      this.call.on('data', (buf: Buffer) => {
        const r = scanResponse(buf);
        this.call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: r.typeUrl, responseNonce: r.nonce }));
        onResponse(r);
        if (pending.delete(r.typeUrl) && pending.size === 0) resolve();
      });
      this.call.on('error', (e: Error) => reject(e));
    });
    this.synced.catch(() => undefined);
    typeUrls.forEach((typeUrl, i) => this.call.write(create(DeltaDiscoveryRequestSchema, { typeUrl, ...(i === 0 ? { node: { id: nodeId, metadata: { NODE_NAME: 'node-1' } } } : {}) })));
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
