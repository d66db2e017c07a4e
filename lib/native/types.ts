/** A network namespace: the path of a netns file (e.g. /var/run/netns/x, /proc/PID/ns/net) or an open fd on one. */
export type NetnsRef = string | number;

export interface SockAddr {
  address: string;
  port: number;
  family: 4 | 6;
}
