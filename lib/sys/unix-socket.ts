// Listening Unix sockets that are never reachable with wider permissions than asked: bound under a
// staging name next to the final path, chmod-ed, then renamed into place (the umask alone would
// leave a window in which anyone could connect, and may not be narrow enough).
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';

export interface UnixSocketFile {
  /**
   * Removes the socket file if it is still ours (a successor may have put its own in place).
   * Call it after closing the server: Node unlinks only the staging name it bound.
   */
  remove(): Promise<void>;
}

/**
 * `server.listen()` on `file` with `mode`. A socket left at `file` (a crashed predecessor) is
 * replaced; anything else there is refused.
 */
export async function listenUnixSocket(server: net.Server, file: string, mode = 0o600): Promise<UnixSocketFile> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const st = await stat(file).catch(() => undefined);
  if (st && !st.isSocket()) throw new Error(`${file} exists and is not a socket; remove it or choose another path`);
  const staging = path.join(dir, `.${path.basename(file)}.${process.pid}`);
  await rm(staging, { force: true });
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error): void => reject(new Error(`cannot listen on ${file} (staged as ${staging}): ${e.message}`));
    server.once('error', fail);
    server.listen(staging, () => {
      server.off('error', fail);
      resolve();
    });
  });
  try {
    await chmod(staging, mode);
    await rename(staging, file);
  } catch (e) {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(staging, { force: true });
    throw new Error(`cannot put the socket ${file} in place: ${(e as Error).message}`);
  }
  const ino = (await stat(file)).ino;
  return {
    remove: async () => {
      const now = await stat(file).catch(() => undefined);
      if (now?.ino === ino) await rm(file, { force: true });
    },
  };
}
