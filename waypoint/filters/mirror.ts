// Which mirrors of a route receive a copy of this request (each with its own percentage). Pure.
import type { Destination, Mirror } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { chance } from './fault.js';

export function mirrorsFor(mirrors: readonly Mirror[], random: () => number): Destination[] {
  const out: Destination[] = [];
  for (const m of mirrors) if (m.destination && chance(m.percentage, random)) out.push(m.destination);
  return out;
}
