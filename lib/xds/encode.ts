// Builds DeltaDiscoveryResponse bytes from per-resource chunks that are encoded once per resource
// version and shared by every stream: a push of N resources to M clients encodes N, not N×M, times.
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { DeltaDiscoveryResponseSchema } from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import type { VersionedResource } from './types.js';

const LEN = WireType.LengthDelimited;
const chunks = new WeakMap<VersionedResource, { name: string; typeUrl: string; chunk: Uint8Array }>();

/**
 * One `resources` entry (field 2 of DeltaDiscoveryResponse) including its tag and length: an
 * envoy.service.discovery.v3.Resource {version = 1, resource = 2 (Any), name = 3, aliases = 4}.
 */
export function resourceChunk(typeUrl: string, name: string, r: VersionedResource): Uint8Array {
  const hit = chunks.get(r);
  if (hit && hit.name === name && hit.typeUrl === typeUrl) return hit.chunk;
  const any = r.resource instanceof Uint8Array ? { typeUrl, value: r.resource } : r.resource;
  const w = new BinaryWriter();
  w.tag(2, LEN).fork();
  if (r.version !== '') w.tag(1, LEN).string(r.version);
  w.tag(2, LEN).fork();
  if (any.typeUrl !== '') w.tag(1, LEN).string(any.typeUrl);
  if (any.value.length > 0) w.tag(2, LEN).bytes(any.value);
  w.join();
  w.tag(3, LEN).string(name);
  for (const a of r.aliases ?? []) w.tag(4, LEN).string(a);
  w.join();
  const chunk = w.finish();
  chunks.set(r, { name, typeUrl, chunk });
  return chunk;
}

/** Every resource of a snapshot, encoded as the `resources` part of one response. */
export interface FullSnapshot {
  body: Uint8Array;
  /** Resource names in body order (shared: do not modify). */
  names: string[];
  versions: ReadonlyMap<string, string>;
}

/**
 * The whole snapshot as response bytes. The XdsServer builds it once per type and generation and
 * shares it among the streams that start from nothing: when many clients connect at once (a
 * control plane restart), each costs one copy instead of a per-resource delta.
 */
export function encodeFullSnapshot(typeUrl: string, snapshot: ReadonlyMap<string, VersionedResource>): FullSnapshot {
  const names: string[] = [];
  const versions = new Map<string, string>();
  const chunks: Uint8Array[] = [];
  for (const [name, r] of snapshot) {
    names.push(name);
    versions.set(name, r.version);
    chunks.push(resourceChunk(typeUrl, name, r));
  }
  return { body: Buffer.concat(chunks), names, versions };
}

export interface ResponseHead {
  typeUrl: string;
  nonce: string;
  systemVersionInfo: string;
  removedResources: string[];
  controlPlaneId: string | undefined;
}

/** The wire bytes of a DeltaDiscoveryResponse; protobuf allows the repeated field after the others. */
export function encodeDeltaResponse(head: ResponseHead, resources: readonly Uint8Array[]): Uint8Array {
  const headBytes = toBinary(DeltaDiscoveryResponseSchema, create(DeltaDiscoveryResponseSchema, {
    typeUrl: head.typeUrl,
    nonce: head.nonce,
    systemVersionInfo: head.systemVersionInfo,
    removedResources: head.removedResources,
    ...(head.controlPlaneId ? { controlPlane: { identifier: head.controlPlaneId } } : {}),
  }));
  return Buffer.concat([headBytes, ...resources]);
}
