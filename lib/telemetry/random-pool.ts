// Random bytes for ids made on every request (trace and span ids), drawn from a buffer filled
// 4 KiB at a time: one call into the CSPRNG per few hundred requests instead of two per request
// (the profile of the waypoint at load showed randomFillSync among its top costs).
import { randomFillSync } from 'node:crypto';

export function pooledRandomBytes(poolSize = 4096): (n: number) => Buffer {
  const pool = Buffer.allocUnsafe(poolSize);
  let at = poolSize;
  return (n: number): Buffer => {
    if (n > poolSize) return randomFillSync(Buffer.allocUnsafe(n));
    if (at + n > poolSize) {
      randomFillSync(pool);
      at = 0;
    }
    // A copy: callers keep their ids while the pool is refilled under them.
    const out = Buffer.from(pool.subarray(at, at + n));
    at += n;
    return out;
  };
}
