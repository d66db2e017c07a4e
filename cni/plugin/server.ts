// The agent's side of protocol.ts: an HTTP server on a Unix socket that decodes the plugin's
// events and hands them to the agent's handlers. Not on the plugin's path (it imports pino).
import http from 'node:http';
import { listenUnixSocket } from '../../lib/sys/unix-socket.js';
import { silentLogger, type Logger } from '../../lib/telemetry/log.js';
import {
  PATH_ADD, PATH_CHECK, PATH_DEL, PATH_STATUS, PROTOCOL_VERSION, VERSION_HEADER, parsePodEvent,
  type AddReply, type CheckReply, type PodEvent, type StatusReply,
} from './protocol.js';

export interface EventHandlers {
  /** Resolve `enrolled` only once the rules are in and ztunnel acknowledged the pod. */
  add(ev: PodEvent): Promise<AddReply>;
  del(ev: PodEvent): Promise<void>;
  check(ev: PodEvent): Promise<CheckReply>;
  status(): Promise<StatusReply>;
}

export interface EventServer {
  socketPath: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error(`request body over ${MAX_BODY} bytes`));
      else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}'));
      } catch (e) {
        reject(new Error(`request body is not JSON: ${(e as Error).message}`));
      }
    });
  });
}

/** Listens on `socketPath` (a stale socket file from a previous run is replaced). */
export async function startEventServer(socketPath: string, h: EventHandlers, log: Logger = silentLogger()): Promise<EventServer> {
  const server = http.createServer((req, res) => {
    void handle(req, res).catch((e: Error) => {
      log.warn({ path: req.url, err: e.message }, 'CNI plugin event failed');
      if (!res.headersSent) send(res, 500, { status: 'failed', message: e.message });
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const v = Number(req.headers[VERSION_HEADER] ?? PROTOCOL_VERSION);
    if (v > PROTOCOL_VERSION) {
      send(res, 400, { status: 'failed', message: `plugin speaks protocol ${v}, this agent ${PROTOCOL_VERSION}: upgrade the agent` });
      return;
    }
    if (req.method === 'GET' && req.url === PATH_STATUS) {
      const s = await h.status();
      send(res, s.ready ? 200 : 503, s);
      return;
    }
    if (req.method !== 'POST' || ![PATH_ADD, PATH_DEL, PATH_CHECK].includes(req.url ?? '')) {
      send(res, 404, { status: 'failed', message: `no ${req.method} ${req.url} here` });
      return;
    }
    let ev: PodEvent;
    try {
      ev = parsePodEvent(await readBody(req));
    } catch (e) {
      send(res, 400, { status: 'failed', message: (e as Error).message });
      return;
    }
    if (req.url === PATH_ADD) {
      const r = await h.add(ev);
      send(res, r.status === 'failed' ? (r.retryable ? 503 : 500) : 200, r);
    } else if (req.url === PATH_CHECK) {
      send(res, 200, await h.check(ev));
    } else {
      await h.del(ev);
      send(res, 200, {});
    }
  }
  // Only root (the runtime running the plugin) may tell the agent about pods; a stale socket of a
  // crashed agent is replaced.
  const file = await listenUnixSocket(server, socketPath, 0o600);
  return {
    socketPath,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await file.remove();
    },
  };
}
