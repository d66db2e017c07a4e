// ztunnel's ports and socket mark (ARCHITECTURE.md §1; the mark is the one the in-pod rules skip).
import net from 'node:net';

export const OUTBOUND_PORT = 15001;
export const INBOUND_PLAINTEXT_PORT = 15006;
export const HBONE_PORT = 15008;
export const DNS_PORT = 15053;

/** SO_MARK of every socket ztunnel makes in a pod's namespace: the in-pod rules never redirect it. Must equal the node agent's. */
export const PACKET_MARK = 0x539;

/** Connections to these ports would loop back into ztunnel itself (Istio's SelfCall). */
export const ILLEGAL_PORTS: ReadonlySet<number> = new Set([OUTBOUND_PORT, INBOUND_PLAINTEXT_PORT, HBONE_PORT]);

export function isLoopback(ip: string): boolean {
  if (net.isIPv4(ip)) return ip.startsWith('127.');
  return ip === '::1';
}
