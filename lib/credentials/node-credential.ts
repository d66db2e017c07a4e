// Node credentials for the File back end: `ambit up` asks for one per node and hands it to that
// node's ztunnel. Signed with the same key the running control plane verifies with (in caDir).
import path from 'node:path';
import { ensureDir, writeFileAtomic } from '../sys/atomic-files.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { TokenIssuer } from './issuer.js';

export interface NodeCredentialOptions {
  caDir: string;
  /** Where `<node>.token` goes (0600); omit to only return the token. */
  credentialsDir?: string;
  nodeName: string;
  /** Default 30 days. */
  ttlSeconds?: number;
  logger?: Logger;
}

export function credentialFile(credentialsDir: string, nodeName: string): string {
  return path.join(credentialsDir, `${nodeName}.token`);
}

export async function issueNodeCredential(o: NodeCredentialOptions): Promise<{ token: string; file?: string }> {
  const issuer = await TokenIssuer.open({ dir: o.caDir, logger: o.logger ?? silentLogger() });
  const token = issuer.issueNodeCredential(o.nodeName, o.ttlSeconds);
  if (!o.credentialsDir) return { token };
  await ensureDir(o.credentialsDir);
  const file = credentialFile(o.credentialsDir, o.nodeName);
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return { token, file };
}
