// The weighted destination pick of a forward action: each destination with probability
// weight / sum of weights, the random source injected. Pure.
import type { Destination } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';

export function pickDestination(destinations: readonly Destination[], random: () => number): Destination | undefined {
  let total = 0;
  for (const d of destinations) total += d.weight;
  if (destinations.length === 0) return undefined;
  // All weights 0 cannot come from the control plane; treat them as equal rather than fail.
  if (total <= 0) return destinations[Math.min(destinations.length - 1, Math.floor(random() * destinations.length))];
  let r = random() * total;
  for (const d of destinations) {
    if (d.weight <= 0) continue;
    if (r < d.weight) return d;
    r -= d.weight;
  }
  return destinations.findLast((d) => d.weight > 0);
}
