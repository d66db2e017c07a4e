// The plugin's side of protocol.ts: one JSON request over the agent's Unix socket. Loaded only
// when a pod needs the agent, so that excluded pods do not pay for node:http.
import http from 'node:http';
import { VERSION_HEADER, PROTOCOL_VERSION } from './protocol.js';

export interface AgentAnswer {
  status: number;
  body: unknown;
}

/** Why the agent could not be asked, in words for the CNI error message. */
export class AgentUnreachable extends Error {
  constructor(readonly socketPath: string, readonly reason: string) {
    super(`node agent at ${socketPath} is not reachable (${reason})`);
    this.name = 'AgentUnreachable';
  }
}

export function requestAgent(socketPath: string, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<AgentAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const req = http.request({
      socketPath,
      method,
      path,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        [VERSION_HEADER]: String(PROTOCOL_VERSION),
        connection: 'close',
      },
    });
    const timer = setTimeout(() => {
      req.destroy(new AgentUnreachable(socketPath, `no answer within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e instanceof AgentUnreachable ? e : new AgentUnreachable(socketPath, e.code ?? e.message));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown = text;
        try {
          parsed = text === '' ? {} : JSON.parse(text);
        } catch {
          // keep the text: the caller reports a malformed answer
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.end(payload);
  });
}
