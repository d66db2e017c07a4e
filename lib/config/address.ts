// Listen addresses as every component's flags take them: `host:port`, `:port` (all interfaces),
// `[::1]:port` or a bare port; port 0 asks the kernel for a free one (tests).
import { formatHostPort } from '../net/host-port.js';
import { ConfigError } from './errors.js';

export interface ListenAddress {
  host: string;
  /** 0 = any free port; the component reports the port it bound. */
  port: number;
}

const SHAPE = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/;

/** `source` names the setting in the error; `defaultHost` is used for `:port` and a bare port. */
export function parseListenAddress(text: string, source: string, defaultHost = '0.0.0.0'): ListenAddress {
  const t = text.trim();
  const m = SHAPE.exec(/^\d+$/.test(t) ? `:${t}` : t);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535) || m[1] === '') {
    throw new ConfigError(`${source}: "${text}" is not a listen address; write host:port, :port, [::1]:port or a port (0 picks a free one)`);
  }
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/** `host:port`, with brackets for an IPv6 host. */
export function formatListenAddress(a: ListenAddress): string {
  return formatHostPort(a.host, a.port);
}
