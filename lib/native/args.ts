// Validation of caller input, pure, so that bad arguments fail with a message naming the field
// before anything touches a namespace.
import net from 'node:net';
import type { NetnsRef } from './types.js';

export function ipFamily(host: unknown, field: string): 4 | 6 {
  const v = typeof host === 'string' ? net.isIP(host) : 0;
  if (v === 4 || v === 6) return v;
  throw new TypeError(`${field} must be an IPv4 or IPv6 address literal (no host names), got ${JSON.stringify(host)}`);
}

export function checkPort(port: unknown, field: string): number {
  if (typeof port === 'number' && Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  throw new RangeError(`${field} must be an integer port from 0 to 65535, got ${JSON.stringify(port)}`);
}

export function checkMark(mark: unknown, field = 'mark'): number {
  if (typeof mark === 'number' && Number.isInteger(mark) && mark >= 0 && mark <= 0xffffffff) return mark;
  throw new RangeError(`${field} must be an integer from 0 to 0xffffffff, got ${JSON.stringify(mark)}`);
}

export function checkBacklog(backlog: unknown): number {
  if (typeof backlog === 'number' && Number.isInteger(backlog) && backlog >= 1 && backlog <= 65535) return backlog;
  throw new RangeError(`backlog must be an integer from 1 to 65535, got ${JSON.stringify(backlog)}`);
}

export function checkFd(fd: unknown, field = 'fd'): number {
  if (typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 && fd <= 0x7fffffff) return fd;
  throw new TypeError(`${field} must be an open file descriptor (a non-negative integer), got ${JSON.stringify(fd)}`);
}

/** null means "the calling thread's own namespace". */
export function checkNetns(netns: unknown): NetnsRef | null {
  if (netns === null || netns === undefined) return null;
  if (typeof netns === 'string' && netns.length > 0 && netns.length < 4096 && !netns.includes('\0')) return netns;
  if (typeof netns === 'number') return checkFd(netns, 'netns');
  throw new TypeError(`netns must be a netns file path or an open fd, got ${JSON.stringify(netns)}`);
}

export function describeNetns(netns: NetnsRef | null): string {
  if (netns === null) return 'this namespace';
  return typeof netns === 'number' ? `netns fd ${netns}` : netns;
}
