// The production dial: probes connect from the node's network namespace, as kubelet's do.
import { connectInNetns } from '../../../lib/native/index.js';
import { netnsPath } from '../../../lib/sys/netns.js';
import type { Dial } from './probers.js';

/** `nodeNetns` is an `ip netns` name or a path such as /proc/PID/ns/net. */
export function nodeDial(nodeNetns: string): Dial {
  const ns = nodeNetns.includes('/') ? nodeNetns : netnsPath(nodeNetns);
  return (host, port, timeoutMs) => connectInNetns(ns, host, port, { timeoutMs });
}
