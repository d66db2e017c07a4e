// Figures for ztunnel's integration test (ZT_BENCH=1): request rate, connection rate and bulk
// echo throughput from inside a pod, with or without the mesh in between.
import { connectInNetns } from '../../../lib/native/index.js';
import { talk, type PodNs } from './ztunnel.js';

/** Sequential 1 KiB request/response on one connection for `ms`: transactions per second. */
export async function requestRate(pod: PodNs, host: string, port: number, ms: number): Promise<number> {
  const s = await connectInNetns(pod.path, host, port, { timeoutMs: 5000, noDelay: true });
  const req = Buffer.alloc(1024, 0x61);
  let pending = 0;
  let greeted = false;
  let n = 0;
  const deadline = performance.now() + ms;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      if (!greeted) {
        const i = d.indexOf(0x0a);
        if (i < 0) return;
        greeted = true;
        d = d.subarray(i + 1);
        s.write(req);
        pending = req.length;
      }
      pending -= d.length;
      if (pending > 0) return;
      n++;
      if (performance.now() > deadline) return resolve();
      s.write(req);
      pending = req.length;
    });
  });
  const rate = n / ((performance.now() - t0) / 1000);
  s.destroy();
  return rate;
}

/** A new connection per 1 KiB exchange, one after another, for `ms`: connections per second. */
export async function connectionRate(pod: PodNs, host: string, port: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < deadline) {
    const r = await talk(pod, host, port, 'x'.repeat(1023));
    if (!r.echo) throw new Error(`exchange ${n} with ${host}:${port} failed`);
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Echo throughput on one connection: MiB/s each way while `mib` MiB go out and come back. */
export async function bulkRate(pod: PodNs, host: string, port: number, mib: number): Promise<number> {
  const s = await connectInNetns(pod.path, host, port, { timeoutMs: 5000 });
  const total = mib * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  let received = -1;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    s.on('error', reject);
    s.on('data', (d: Buffer) => {
      if (received < 0) {
        const i = d.indexOf(0x0a);
        if (i < 0) return;
        received = 0;
        d = d.subarray(i + 1);
        void (async () => {
          for (let sent = 0; sent < total; sent += chunk.length) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r));
        })();
      }
      received += d.length;
      if (received >= total) resolve();
    });
  });
  const rate = mib / ((performance.now() - t0) / 1000);
  s.destroy();
  return rate;
}
