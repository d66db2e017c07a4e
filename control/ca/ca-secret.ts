// Replicas of the control plane must sign with one root and one node-credential key. In
// Kubernetes mode the self-signed CA lives in the Secret `istio-ca-secret` of the control plane's
// namespace (Istio's name): the first replica to start creates it from what it generated, every
// other replica writes the Secret's copy into its CA directory before opening the CA. A plug-in
// CA (cacerts/ in the CA directory, mounted from Istio's `cacerts` Secret) is shared already.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { NODE_TOKEN_KEY_FILE } from '../../lib/credentials/issuer.js';
import { StoreError, type ClusterStore, type KubeObject } from '../../lib/store/types.js';
import { readIfExists, writeFileAtomic, ensureDir } from '../../lib/sys/atomic-files.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { CA_FILES } from './authority.js';

export const CA_SECRET = 'istio-ca-secret';

/** The files shared, with the mode each is written with. */
const SHARED: ReadonlyArray<[file: string, mode: number]> = [
  [CA_FILES.caCert, 0o644],
  [CA_FILES.caKey, 0o600],
  [NODE_TOKEN_KEY_FILE, 0o600],
];

/** The Secret holding these file contents. Pure. */
export function caSecret(namespace: string, files: ReadonlyMap<string, string>): KubeObject {
  const data: Record<string, string> = {};
  for (const [name, text] of files) data[name] = Buffer.from(text).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'ambit' } }, type: 'istio.io/ca-root', data };
}

/** The file contents a Secret holds, or a message naming what is missing. Pure. */
export function filesOf(secret: KubeObject): Map<string, string> | string {
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const out = new Map<string, string>();
  const missing: string[] = [];
  for (const [name] of SHARED) {
    const v = data[name];
    if (typeof v === 'string' && v !== '') out.set(name, Buffer.from(v, 'base64').toString('utf8'));
    else missing.push(name);
  }
  return missing.length ? `Secret ${secret.metadata.namespace}/${CA_SECRET} lacks ${missing.join(', ')}; delete it to have a new CA generated (every issued certificate then stops verifying) or restore the keys` : out;
}

function hasPlugIn(caDir: string): boolean {
  const dir = path.join(caDir, 'cacerts');
  return existsSync(dir) && readdirSync(dir).some((f) => Object.values(CA_FILES).includes(f as never));
}

/**
 * Makes `caDir` hold the shared CA state. `generate` creates the local files (opening the CA and
 * the node-credential key does) when the Secret does not exist yet.
 */
export async function syncCaSecret(store: ClusterStore, namespace: string, caDir: string, generate: () => Promise<void>, log: Logger): Promise<'plug-in' | 'loaded' | 'created'> {
  if (hasPlugIn(caDir)) return 'plug-in';
  const key = { apiVersion: 'v1', kind: 'Secret', namespace, name: CA_SECRET };
  for (let attempt = 0; attempt < 3; attempt++) {
    const secret = await store.get(key);
    if (secret) {
      const files = filesOf(secret);
      if (typeof files === 'string') throw new Error(files);
      await ensureDir(caDir);
      for (const [name, mode] of SHARED) {
        const text = files.get(name)!;
        if ((await readIfExists(path.join(caDir, name))) !== text) await writeFileAtomic(path.join(caDir, name), text, mode);
      }
      log.info({ secret: `${namespace}/${CA_SECRET}` }, 'CA: using the shared CA from its Secret');
      return 'loaded';
    }
    await generate();
    const files = new Map<string, string>();
    for (const [name] of SHARED) {
      const text = await readIfExists(path.join(caDir, name));
      if (text === undefined) throw new Error(`CA state: ${path.join(caDir, name)} is missing after generating the CA`);
      files.set(name, text);
    }
    try {
      await store.create(caSecret(namespace, files));
      log.info({ secret: `${namespace}/${CA_SECRET}` }, 'CA: stored the generated CA in its Secret for the other replicas');
      return 'created';
    } catch (err) {
      // Another replica created it first: use its CA instead of ours.
      if (!(err instanceof StoreError && err.code === 'AlreadyExists')) throw err;
    }
  }
  throw new Error(`CA: Secret ${namespace}/${CA_SECRET} keeps appearing and disappearing; is something deleting it?`);
}
