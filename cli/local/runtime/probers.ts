// The probes' I/O. HTTP and TCP probes connect through an injected `dial`, which in the cluster
// opens the socket in the node's network namespace, as kubelet probes from the node.
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { formatHostPort } from '../../../lib/net/host-port.js';
import type { Launcher } from './launcher.js';
import { killGroup } from './launcher.js';
import { resolvePort, type ProbeOutcome } from './probe.js';
import type { ContainerPort, HttpGetAction, Probe } from './types.js';

export type Dial = (host: string, port: number, timeoutMs: number) => Promise<net.Socket>;

/** Connects from the caller's own namespace; for tests and host-network use. */
export const plainDial: Dial = (host, port, timeoutMs) =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('i/o timeout'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });

export type ProbeTarget = {
  podIP: string;
  netns: string;
  ports?: ContainerPort[];
  /** The container's environment: exec probes run with it, as `kubectl exec` would. */
  env: Record<string, string>;
};

export type ProberDeps = { dial: Dial; launcher: Launcher };

const USER_AGENT = 'kube-probe/1.31';
const MAX_OUTPUT = 10 * 1024;

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ECONNREFUSED') return 'connect: connection refused';
  if (err?.code === 'EHOSTUNREACH' || err?.code === 'ENETUNREACH') return 'connect: no route to host';
  return err?.message ?? String(e);
}

/** Dials, giving up at the deadline; a socket that arrives late is closed. */
async function dialBy(dial: Dial, host: string, port: number, deadline: number): Promise<net.Socket> {
  const left = Math.max(1, deadline - Date.now());
  let timer: NodeJS.Timeout | undefined;
  const p = dial(host, port, left);
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      p.then((s) => s.destroy(), () => undefined);
      reject(new Error('i/o timeout'));
    }, left);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function httpProbe(action: HttpGetAction, target: ProbeTarget, timeoutMs: number, dial: Dial): Promise<ProbeOutcome> {
  const port = resolvePort(action.port, target.ports);
  if ('error' in port) return { result: 'failure', message: port.error };
  const host = action.host || target.podIP;
  const scheme = (action.scheme ?? 'HTTP').toLowerCase();
  const urlPath = action.path ? (action.path.startsWith('/') ? action.path : `/${action.path}`) : '/';
  const url = `${scheme}://${formatHostPort(host, port.port)}${urlPath}`;
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*', Connection: 'close' };
  for (const h of action.httpHeaders ?? []) {
    const existing = Object.keys(headers).find((k) => k.toLowerCase() === h.name.toLowerCase());
    if (existing) delete headers[existing];
    headers[h.name] = h.value;
  }
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) headers.Host = formatHostPort(host, port.port);
  const deadline = Date.now() + timeoutMs;
  let sock: net.Socket;
  try {
    sock = await dialBy(dial, host, port.port, deadline);
  } catch (e) {
    return { result: 'failure', message: `Get "${url}": dial tcp ${formatHostPort(host, port.port)}: ${errText(e)}` };
  }
  const conn: net.Socket = scheme === 'https' ? tls.connect({ socket: sock, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) }) : sock;
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    const finish = (o: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () => finish({ result: 'failure', message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` }),
      Math.max(1, deadline - Date.now()),
    );
    const req = http.request({ createConnection: () => conn, method: 'GET', path: urlPath, headers }, (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      if (code >= 200 && code < 400) finish({ result: 'success', message: `HTTP probe succeeded with statuscode: ${code}` });
      else finish({ result: 'failure', message: `HTTP probe failed with statuscode: ${code}` });
    });
    req.on('error', (e) => finish({ result: 'failure', message: `Get "${url}": ${errText(e)}` }));
    req.end();
  });
}

export async function tcpProbe(action: { port: number | string; host?: string }, target: ProbeTarget, timeoutMs: number, dial: Dial): Promise<ProbeOutcome> {
  const port = resolvePort(action.port, target.ports);
  if ('error' in port) return { result: 'failure', message: port.error };
  const host = action.host || target.podIP;
  try {
    const s = await dialBy(dial, host, port.port, Date.now() + timeoutMs);
    s.destroy();
    return { result: 'success', message: '' };
  } catch (e) {
    return { result: 'failure', message: `dial tcp ${formatHostPort(host, port.port)}: ${errText(e)}` };
  }
}

export function execProbe(command: string[], target: ProbeTarget, timeoutMs: number, launcher: Launcher): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const finish = (o: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    let child: ReturnType<Launcher['spawn']>;
    try {
      child = launcher.spawn({ argv: command, env: target.env, netns: target.netns });
    } catch (e) {
      resolve({ result: 'failure', message: `exec ${JSON.stringify(command)}: ${(e as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      if (child.pid) killGroup(child.pid, 'SIGKILL');
      finish({ result: 'failure', message: `command ${JSON.stringify(command)} timed out` });
    }, timeoutMs);
    const collect = (b: Buffer): void => {
      if (out.length < MAX_OUTPUT) out += b.toString('utf8').slice(0, MAX_OUTPUT - out.length);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (e) => finish({ result: 'failure', message: `exec ${JSON.stringify(command)}: ${e.message}` }));
    child.on('close', (code, signal) => {
      if (code === 0) finish({ result: 'success', message: out.trim() });
      else finish({ result: 'failure', message: out.trim() || `command ${JSON.stringify(command)} exited with ${code ?? signal}` });
    });
  });
}

/** Runs whichever handler the probe has. */
export function runProbe(p: Probe, target: ProbeTarget, timeoutMs: number, deps: ProberDeps): Promise<ProbeOutcome> {
  if (p.httpGet) return httpProbe(p.httpGet, target, timeoutMs, deps.dial);
  if (p.tcpSocket) return tcpProbe(p.tcpSocket, target, timeoutMs, deps.dial);
  if (p.exec) return execProbe(p.exec.command, target, timeoutMs, deps.launcher);
  return Promise.resolve({ result: 'failure', message: 'probe has no handler' });
}
