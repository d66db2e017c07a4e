// Sockets in a pod's network namespace, each carrying ztunnel's mark so that the pod's redirection
// rules let it through: outbound connects, and deliveries to the app from the
// client's own IP (IP_TRANSPARENT; the node agent's policy routing brings the replies back).
import net from 'node:net';
import { connectInNetns, startConnectInNetns, type NetnsRef } from '../../lib/native/index.js';
import { PACKET_MARK } from './ports.js';

export interface PodNet {
  /** A marked socket from the pod, returned while still connecting (what the HBONE client wants). */
  startConnect(host: string, port: number): net.Socket;
  /** A marked, connected socket from the pod. */
  connect(host: string, port: number, timeoutMs: number): Promise<net.Socket>;
  /** A marked socket connected from `sourceIp` (any IP: the client's), port chosen by the kernel. */
  connectAs(sourceIp: string, host: string, port: number, timeoutMs: number): Promise<net.Socket>;
}

/** The real thing, over lib/native. `netns` null: this process's namespace (tests without pods). */
export function netnsPodNet(netns: NetnsRef | null, mark = PACKET_MARK): PodNet {
  return {
    startConnect: (host, port) => {
      const s = startConnectInNetns(netns, host, port, { mark, noDelay: true });
      // This socket carries TLS, which has its own close: a peer's FIN must close it, or a server
      // that refuses our certificate leaves the HBONE dial hanging until its timeout.
      s.allowHalfOpen = false;
      return s;
    },
    connect: (host, port, timeoutMs) => connectInNetns(netns, host, port, { mark, timeoutMs, noDelay: true }),
    connectAs: (sourceIp, host, port, timeoutMs) => {
      // A spoofed source must be of the destination's family; otherwise deliver from the pod's own address.
      if (net.isIP(sourceIp) !== net.isIP(host)) return connectInNetns(netns, host, port, { mark, timeoutMs, noDelay: true });
      // Port 0, never the client's port: that SYN would match the client's own conntrack entry
      // (the same 5-tuple, seen from inside the pod) and be dropped as a duplicate.
      return connectInNetns(netns, host, port, { mark, transparent: true, localAddress: sourceIp, timeoutMs, noDelay: true });
    },
  };
}
