// What a mesh component (ztunnel, waypoint) presents to the control plane and trusts it by: a
// bearer token read fresh for every stream and certificate request (it is rotated on disk), and
// the mesh root certificate. `hint` tells the user which flag or file to fix.
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';

export type TokenSource = () => Promise<string | undefined>;

/** A fixed `value`, else the contents of `file`, else no token. */
export function tokenSource(o: { file?: string; value?: string; hint: string }): TokenSource {
  if (o.value !== undefined) return () => Promise.resolve(o.value);
  const file = o.file;
  if (file === undefined) return () => Promise.resolve(undefined);
  return async () => {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (e) {
      throw new Error(`cannot read the credential ${file}: ${(e as Error).message}; ${o.hint}`);
    }
  };
}

/** gRPC metadata of every xDS stream: the bearer token and Istio's `clusterid`. */
export function controlPlaneMetadata(token: TokenSource, clusterId: string): () => Promise<grpc.Metadata> {
  return async () => {
    const md = new grpc.Metadata();
    const t = await token();
    if (t) md.set('authorization', `Bearer ${t}`);
    md.set('clusterid', clusterId);
    return md;
  };
}

export async function readMeshRoot(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the mesh root certificate ${path}: ${(e as Error).message}; ${hint}`);
  }
}
