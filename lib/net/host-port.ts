// `host:port` text, the one way every component writes and reads it: an IPv6 address goes in
// brackets (`[::1]:80`) because its own colons would otherwise make the port ambiguous.

export interface HostPort {
  /** IP (IPv6 without brackets) or host name; '' when the text was `:port`. */
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` for an IPv6 address. Only IPv6 text contains a colon. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (any address). Throws an error that names the text
 * and says which form is expected; it checks the shape and the port, not that the host resolves.
 */
export function parseHostPort(text: string): HostPort {
  const fail = (why: string): never => {
    throw new Error(`"${text}" is not host:port: ${why}; write e.g. 127.0.0.1:15000, [::1]:15000 or :15000`);
  };
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return fail('a bracketed IPv6 address must be followed by ]:port');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return fail('the ":port" is missing');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 address needs brackets');
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) return fail(`the port "${portText}" is not a number from 0 to 65535`);
  return { host, port };
}
