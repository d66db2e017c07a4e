// The listeners of one pod's proxy, created INSIDE the pod's network namespace:
// 0.0.0.0:15001 (REDIRECT in OUTPUT lands on 127.0.0.1, so a listener on the pod IP alone would miss it), :15006 and :15008 (connections
// to the pod IP; IP_TRANSPARENT as ztunnel sets it, best effort), all marked 0x539 and with
// SO_REUSEPORT so that an old and a new ztunnel can both listen during a restart.
import type net from 'node:net';
import { closeFd, listenFdInNetns, listenInNetns, type NetnsRef } from '../../lib/native/index.js';
import { HBONE_PORT, INBOUND_PLAINTEXT_PORT, OUTBOUND_PORT, PACKET_MARK } from '../proxy/ports.js';
import type { PodListeners } from '../proxy/pod-proxy.js';

export interface ListenerSet extends PodListeners {
  /**
   * Closes the servers, and the HBONE fd unless a server took it over (`hboneAdopted`): after a
   * failed start, or when the proxy is gone.
   */
  close(opts?: { hboneAdopted?: boolean }): void;
}

export type ListenerFactory = (netns: NetnsRef) => Promise<ListenerSet>;

export interface PodListenerOptions {
  host?: string;
  mark?: number;
  ports?: { outbound: number; plaintext: number; hbone: number };
}

export function podListenerFactory(o: PodListenerOptions = {}): ListenerFactory {
  const host = o.host ?? '0.0.0.0';
  const mark = o.mark ?? PACKET_MARK;
  const ports = o.ports ?? { outbound: OUTBOUND_PORT, plaintext: INBOUND_PLAINTEXT_PORT, hbone: HBONE_PORT };
  return async (netns) => {
    const servers: net.Server[] = [];
    let fd: number | undefined;
    const close = (opts: { hboneAdopted?: boolean } = {}): void => {
      for (const s of servers) if (s.listening) s.close();
      if (fd !== undefined && !opts.hboneAdopted) {
        try {
          closeFd(fd);
        } catch {
          // already handed to a server that closed it
        }
      }
    };
    try {
      const outbound = await listenInNetns(netns, host, ports.outbound, { mark, reusePort: true, backlog: 128 });
      servers.push(outbound);
      const plaintext = await listenInNetns(netns, host, ports.plaintext, { mark, transparent: true, reusePort: true, backlog: 128 });
      servers.push(plaintext);
      fd = listenFdInNetns(netns, host, ports.hbone, { mark, transparent: true, reusePort: true, backlog: 128 });
      return { outbound, plaintext, hbone: { fd }, close };
    } catch (e) {
      close();
      throw e;
    }
  };
}
