/**
 * JSON requests to an API server with the kubeconfig's credentials. The kubeconfig (files,
 * in-cluster service account, exec and token providers) is @kubernetes/client-node's; the request
 * is plain node:https because the library's generic object API maps bodies through its typed
 * models, which turns timestamps into Dates, drops fields its models do not know (custom
 * resources' and newer API fields) and drops the `null`s a merge patch deletes with.
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorFromStatus, KubeApiError } from './kube-status.js';
import { queryString } from './kube-paths.js';

export type ContentType = 'application/json' | 'application/merge-patch+json' | 'application/apply-patch+yaml';

export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: ContentType;
}

export interface KubeClientOptions {
  /** Per request, from sending to the whole answer read (default 30 s). */
  timeoutMs?: number;
}

export class KubeClient {
  private readonly timeoutMs: number;
  private readonly kc: Promise<KubeConfig>;
  private serverUrl = '';
  /** One keep-alive agent while the TLS credentials stay the same (the library makes one per request). */
  private agent?: { credentials: string; agent: HttpsAgent };

  /** `config` may still be loading (openStore loads it in the background); requests wait for it. */
  constructor(config: KubeConfig | Promise<KubeConfig>, opts: KubeClientOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const check = (kc: KubeConfig): KubeConfig => {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster: set current-context to a context whose cluster has a server');
      this.serverUrl = cluster.server;
      return kc;
    };
    this.kc = config instanceof Promise ? config.then(check) : Promise.resolve(check(config));
    // A kubeconfig that fails to load fails every request; it is not an unhandled rejection.
    this.kc.catch(() => undefined);
  }

  /** The kubeconfig, once loaded. */
  config(): Promise<KubeConfig> {
    return this.kc;
  }

  /** The API server's URL, from the current context ('' until the kubeconfig is loaded). */
  get server(): string {
    return this.serverUrl;
  }

  /** Ends the kept-alive connections. */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }

  /**
   * Reuses connections: TLS handshakes were most of a request's time. Credentials are read again
   * for every request (files rotate), and a change of them gets a new agent. A proxy's agent is
   * the library's own.
   */
  private agentFor(kc: KubeConfig, opts: RequestOptions): RequestOptions['agent'] {
    if (kc.getCurrentCluster()?.proxyUrl) return opts.agent;
    const tls = opts as { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean; servername?: string };
    const text = (v: unknown): string => (v === undefined ? '' : Buffer.isBuffer(v) ? v.toString('base64') : String(v));
    const credentials = [tls.ca, tls.cert, tls.key, tls.rejectUnauthorized, tls.servername].map(text).join('|');
    if (this.agent?.credentials !== credentials) {
      this.agent?.agent.destroy();
      const agent = new HttpsAgent({
        keepAlive: true,
        ...(tls.ca !== undefined ? { ca: tls.ca as Buffer } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert as Buffer } : {}),
        ...(tls.key !== undefined ? { key: tls.key as Buffer } : {}),
        ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      });
      this.agent = { credentials, agent };
    }
    return this.agent.agent;
  }

  async request<T>(req: KubeRequest): Promise<T> {
    const kc = await this.kc;
    const url = new URL(this.server.replace(/\/+$/, '') + req.path + queryString(req.query ?? {}));
    const what = `${req.method} ${req.path}`;
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: OutgoingHttpHeaders = { ...(opts.headers as OutgoingHttpHeaders | undefined), accept: 'application/json' };
    if (body) Object.assign(headers, { 'content-type': req.contentType ?? 'application/json', 'content-length': body.length });
    opts.method = req.method;
    opts.headers = headers;
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    // An agent made for https cannot carry a plain-http request.
    if (url.protocol === 'http:') delete opts.agent;
    else opts.agent = this.agentFor(kc, opts);
    const { status, text, type } = await new Promise<{ status: number; text: string; type: string }>((resolve, reject) => {
      const r = send(url, opts, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), type: String(res.headers['content-type'] ?? '') }));
        res.on('error', reject);
      });
      r.setTimeout(this.timeoutMs, () => r.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      r.on('error', (err: Error) => reject(new KubeApiError(0, 'Unavailable', `${what}: ${err.message}; is the API server at ${this.server} running and reachable?`)));
      r.end(body);
    });
    let parsed: unknown = text;
    if (type.includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new KubeApiError(status, 'BadResponse', `${what}: the API server answered ${status} with malformed JSON`);
      }
    }
    if (status < 200 || status > 299) throw errorFromStatus(status, parsed, what);
    return parsed as T;
  }
}
