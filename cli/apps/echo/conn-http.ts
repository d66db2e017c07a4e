import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { classifyError, headerObject, timeoutError, TransportError, type Conn, type Reply, type SendOptions } from './conn.js';
import type { Target } from './target.js';

/** HTTP/1.1 over one keep-alive socket: an agent of its own with maxSockets 1. */
export class Http1Conn implements Conn {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  /** Sockets already counted: the agent hands the same keep-alive socket to many requests. */
  private readonly seen = new WeakSet<Socket>();
  connects = 0;

  constructor(private readonly t: Target) {}

  send(o: SendOptions): Promise<Reply> {
    return new Promise((resolve, reject) => {
      let connected = false;
      const headers = headerObject(o.headers);
      if (o.body.length > 0) headers['content-length'] = String(o.body.length);
      const req = http.request({
        host: this.t.host,
        port: this.t.port,
        path: this.t.path,
        method: o.method ?? (o.body.length > 0 ? 'POST' : 'GET'),
        agent: this.agent,
        headers,
      });
      // Built only when it fires: an Error captures a stack, too dear for every request.
      let timeout: TransportError | undefined;
      const timer = setTimeout(() => {
        timeout = timeoutError(this.t.authority, o.timeoutMs);
        req.destroy(timeout);
      }, o.timeoutMs);
      req.on('socket', (s: Socket) => {
        const fresh = !this.seen.has(s);
        this.seen.add(s);
        if (!s.connecting) {
          connected = true;
          if (fresh) this.connects++;
        } else {
          s.once('connect', () => {
            connected = true;
            this.connects++;
          });
        }
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(classifyError(e, this.t.authority, connected));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          n += c.length;
        });
        const cut = (e: unknown): void => {
          clearTimeout(timer);
          reject(timeout ?? classifyError(e, this.t.authority, true));
        };
        res.on('error', cut);
        res.on('close', () => res.complete || cut(new Error('connection closed before the response ended')));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string | string[]>,
            body: Buffer.concat(chunks, n),
            bytesSent: o.body.length,
            bytesReceived: n,
          });
        });
      });
      req.end(o.body.length > 0 ? o.body : undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** h2c with prior knowledge: one session, reopened lazily if it goes away. */
export class H2cConn implements Conn {
  private session: http2.ClientHttp2Session | undefined;
  private connected = false;
  private sessionError: Error | undefined;
  connects = 0;

  constructor(private readonly t: Target) {}

  private open(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    this.connected = false;
    this.sessionError = undefined;
    const s = http2.connect(`http://${this.t.authority}`);
    s.on('connect', () => {
      this.connected = true;
      this.connects++;
    });
    s.on('error', (e) => (this.sessionError = e));
    s.on('goaway', () => {
      if (this.session === s) this.session = undefined;
    });
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  send(o: SendOptions): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const session = this.open();
      const headers: http2.OutgoingHttpHeaders = {
        ':method': o.method ?? (o.body.length > 0 ? 'POST' : 'GET'),
        ':path': this.t.path,
      };
      for (const [k, v] of Object.entries(headerObject(o.headers))) {
        // A Host header means "this authority" in HTTP/2 (mesh tests address services by name).
        if (k === 'host') headers[':authority'] = Array.isArray(v) ? v[0] : v;
        else headers[k] = v;
      }
      if (o.body.length > 0) headers['content-length'] = o.body.length;
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(headers, { endStream: o.body.length === 0 });
      } catch (e) {
        reject(classifyError(e, this.t.authority, this.connected));
        return;
      }
      let status = 0;
      let resHeaders: Record<string, string | string[]> = {};
      const chunks: Buffer[] = [];
      let n = 0;
      let settled = false;
      const fail = (e: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const cause = e instanceof TransportError ? e : (this.sessionError ?? e);
        reject(classifyError(cause, this.t.authority, this.connected || status !== 0));
      };
      const timer = setTimeout(() => {
        fail(timeoutError(this.t.authority, o.timeoutMs));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, o.timeoutMs);
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        resHeaders = {};
        for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && v !== undefined) resHeaders[k] = Array.isArray(v) ? v : String(v);
      });
      stream.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
      });
      stream.on('error', fail);
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status, headers: resHeaders, body: Buffer.concat(chunks, n), bytesSent: o.body.length, bytesReceived: n });
      });
      // A stream cut by its session's failure may emit 'close' without 'end' or 'error'.
      stream.on('close', () => settled || fail(new Error('stream closed before the response ended')));
      if (o.body.length > 0) stream.end(o.body);
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
