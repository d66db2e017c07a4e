// google.protobuf.Duration → milliseconds. Pure.
import type { Duration } from '@bufbuild/protobuf/wkt';

export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}
