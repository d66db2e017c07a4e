// ZDS messages as plain TypeScript values, and their encoding with Istio's generated schemas plus
// Ambit's ancillary netns path (lib/proto/src/ambit/zds/zds_ext.proto explains the layout).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { WorkloadRequestAncillarySchema } from '../proto/gen/ambit/zds/zds_ext_pb.js';
import {
  AckSchema,
  Version,
  WorkloadRequestSchema,
  WorkloadResponseSchema,
  ZdsHelloSchema,
  type WorkloadRequest,
} from '../proto/gen/istio/workload/zds/zds_pb.js';
import { ZdsError } from './errors.js';

export { Version as ZdsVersion };
export const ZDS_VERSION = Version.V1;

/** Who a pod is: Istio's WorkloadInfo plus the uid that AddWorkload carries beside it. */
export interface ZdsWorkload {
  /** Kubernetes pod UID. */
  uid: string;
  name: string;
  namespace: string;
  serviceAccount: string;
}

export type ZdsRequest =
  | { kind: 'add'; workload: ZdsWorkload; netnsPath: string }
  | { kind: 'keep'; uid: string }
  | { kind: 'del'; uid: string }
  | { kind: 'snapshotSent' };

function protocol(message: string): ZdsError {
  return new ZdsError('PROTOCOL', message);
}

function decodeOr<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw protocol(`cannot decode ${what}: ${(e as Error).message}`);
  }
}

/** Why `path` cannot name a network namespace for ZDS, or undefined. */
export function netnsPathProblem(path: string): string | undefined {
  if (path === '') return 'netns path is empty';
  if (!path.startsWith('/')) return `netns path "${path}" must be absolute`;
  if (path.includes('\0')) return 'netns path contains a NUL byte';
  return undefined;
}

export function encodeHello(version: Version = ZDS_VERSION): Uint8Array {
  return toBinary(ZdsHelloSchema, create(ZdsHelloSchema, { version }));
}

export function decodeHello(bytes: Uint8Array): Version {
  return decodeOr('ZdsHello', () => fromBinary(ZdsHelloSchema, bytes)).version;
}

export function encodeRequest(req: ZdsRequest): Uint8Array {
  let msg: WorkloadRequest;
  switch (req.kind) {
    case 'add': {
      const { uid, name, namespace, serviceAccount } = req.workload;
      msg = create(WorkloadRequestSchema, {
        payload: { case: 'add', value: { uid, workloadInfo: { name, namespace, serviceAccount } } },
      });
      const main = toBinary(WorkloadRequestSchema, msg);
      const extra = toBinary(WorkloadRequestAncillarySchema, create(WorkloadRequestAncillarySchema, { netnsPath: req.netnsPath }));
      return Buffer.concat([main, extra]);
    }
    case 'keep':
      msg = create(WorkloadRequestSchema, { payload: { case: 'keep', value: { uid: req.uid } } });
      break;
    case 'del':
      msg = create(WorkloadRequestSchema, { payload: { case: 'del', value: { uid: req.uid } } });
      break;
    case 'snapshotSent':
      msg = create(WorkloadRequestSchema, { payload: { case: 'snapshotSent', value: {} } });
      break;
  }
  return toBinary(WorkloadRequestSchema, msg);
}

/** Decodes and checks a request as ztunnel must: the netns path travels with `add` and only with it. */
export function decodeRequest(bytes: Uint8Array): ZdsRequest {
  const msg = decodeOr('WorkloadRequest', () => fromBinary(WorkloadRequestSchema, bytes));
  const { netnsPath } = decodeOr('WorkloadRequest netns path', () => fromBinary(WorkloadRequestAncillarySchema, bytes));
  const p = msg.payload;
  if (p.case !== 'add' && netnsPath !== '') throw protocol(`WorkloadRequest ${p.case ?? '(empty)'} carries a netns path; only add may`);
  switch (p.case) {
    case 'add': {
      const { uid, workloadInfo } = p.value;
      if (uid === '') throw protocol('AddWorkload has no uid');
      const problem = netnsPathProblem(netnsPath);
      if (problem) throw protocol(`AddWorkload ${uid}: ${problem}`);
      const workload = { uid, name: workloadInfo?.name ?? '', namespace: workloadInfo?.namespace ?? '', serviceAccount: workloadInfo?.serviceAccount ?? '' };
      return { kind: 'add', workload, netnsPath };
    }
    case 'keep':
      if (p.value.uid === '') throw protocol('KeepWorkload has no uid');
      return { kind: 'keep', uid: p.value.uid };
    case 'del':
      if (p.value.uid === '') throw protocol('DelWorkload has no uid');
      return { kind: 'del', uid: p.value.uid };
    case 'snapshotSent':
      return { kind: 'snapshotSent' };
    default:
      throw protocol('WorkloadRequest has no payload');
  }
}

/** Empty `error` means success, as in Istio. */
export function encodeAck(error = ''): Uint8Array {
  return toBinary(WorkloadResponseSchema, create(WorkloadResponseSchema, { payload: { case: 'ack', value: create(AckSchema, { error }) } }));
}

/** The Ack's error text ('' = success). */
export function decodeAck(bytes: Uint8Array): string {
  const msg = decodeOr('WorkloadResponse', () => fromBinary(WorkloadResponseSchema, bytes));
  if (msg.payload.case !== 'ack') throw protocol('WorkloadResponse has no ack');
  return msg.payload.value.error;
}

/** One line for logs. */
export function describeRequest(req: ZdsRequest): string {
  switch (req.kind) {
    case 'add':
      return `add ${req.workload.namespace}/${req.workload.name} (${req.workload.uid})`;
    case 'keep':
    case 'del':
      return `${req.kind} ${req.uid}`;
    case 'snapshotSent':
      return 'snapshot_sent';
  }
}
