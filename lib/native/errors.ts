import { getSystemErrorMap } from 'node:util';

/** A failed system call, with the errno name as `code` ('ECONNREFUSED', 'EADDRNOTAVAIL', …) and the positive errno. */
export class NativeError extends Error {
  override readonly name = 'NativeError';
  constructor(
    message: string,
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What usually causes a failure, keyed by `syscall code` then by `code` alone. */
const HINTS: Record<string, string> = {
  'open ENOENT': 'no such network namespace file (was the namespace deleted, or the path mistyped?)',
  'ioctl(NS_GET_NSTYPE) EINVAL': 'this file is not a network namespace',
  'setns EINVAL': 'this is not a network namespace',
  'setns EPERM': 'entering a network namespace needs CAP_SYS_ADMIN (run as root)',
  'bind EADDRNOTAVAIL': 'the address is not assigned in that namespace; pass transparent: true to bind a foreign address',
  'bind EADDRINUSE': 'the port is taken in that namespace; pass reusePort: true to share it',
  'getsockopt(SO_ORIGINAL_DST) ENOENT': 'no conntrack entry: the connection was not NATed, or conntrack is not active in that namespace',
  'getsockopt(IP6T_SO_ORIGINAL_DST) ENOENT': 'no conntrack entry: the connection was not NATed, or conntrack is not active in that namespace',
  EPERM: 'socket marks and transparent sockets need CAP_NET_ADMIN (run as root)',
  ECONNREFUSED: 'nothing listens on that address and port in that namespace',
  ETIMEDOUT: 'no answer; with a mark, check that the mark matches the routing rules (only the low 12 bits are matched)',
  ENETUNREACH: 'no route in that namespace (with transparent: true, check the policy routing for the mark)',
};

const errorMap = getSystemErrorMap();

/** Name and description of a positive errno, from libuv's table ('ECONNREFUSED', 'connection refused'). */
export function describeErrno(errno: number): [code: string, text: string] {
  const e = errorMap.get(-Math.abs(errno));
  return e ? [e[0], e[1]] : [`E${Math.abs(errno)}`, `error ${Math.abs(errno)}`];
}

export function makeNativeError(context: string, errno: number, syscall: string, cause?: unknown): NativeError {
  const positive = Math.abs(errno);
  const [code, text] = describeErrno(positive);
  const hint = HINTS[`${syscall} ${code}`] ?? HINTS[code];
  const msg = `${context}: ${syscall} failed with ${code} (${text})${hint ? `: ${hint}` : ''}`;
  return new NativeError(msg, code, positive, syscall, cause === undefined ? undefined : { cause });
}

interface SyscallErrorLike {
  errno: number;
  syscall: string;
}

function isSyscallError(e: unknown): e is SyscallErrorLike {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o['errno'] === 'number' && typeof o['syscall'] === 'string';
}

/** Turns an addon error (positive errno) or a Node ErrnoException (negative errno) into a NativeError; other errors pass through. */
export function toNativeError(e: unknown, context: string): unknown {
  if (e instanceof NativeError || !isSyscallError(e)) return e;
  return makeNativeError(context, e.errno, e.syscall, e);
}

/** Runs an addon call, rethrowing its failure as a NativeError that names the operation. */
export function wrapCall<T>(context: () => string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw toNativeError(e, context());
  }
}
