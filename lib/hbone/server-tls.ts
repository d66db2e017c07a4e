// The server's TLS handshakes: a tls.Server per certificate, used only as a handshake engine (it is
// never listening). Node has no per-connection context choice without SNI, and HBONE sends none,
// so the server picks the engine for the certificate of the listener that accepted the socket.
import tls from 'node:tls';
import { HboneError, errorMessage } from './errors.js';
import { serverTlsOptions, type CredentialEntry, type Credentials, type TlsContextCache } from './tls.js';

export interface TlsEngine {
  server: tls.Server;
  entry: CredentialEntry;
}

export interface EngineEvents {
  /** Handshake done and the client chain verified by OpenSSL. */
  secure(sock: tls.TLSSocket, entry: CredentialEntry): void;
  failed(err: Error, sock: tls.TLSSocket, entry: CredentialEntry): void;
}

export class TlsEngines {
  private readonly engines = new Map<string, TlsEngine>();

  constructor(
    private readonly contexts: TlsContextCache,
    private readonly handshakeTimeoutMs: number,
    private readonly events: EngineEvents,
    private readonly maxEngines = 64,
  ) {}

  /** The engine for `creds`; created on first use, least recently used dropped first. */
  get(creds: Credentials): TlsEngine {
    const entry = this.contexts.entry(creds);
    let e = this.engines.get(entry.fingerprint);
    if (e) {
      this.engines.delete(entry.fingerprint);
      this.engines.set(entry.fingerprint, e);
      return e;
    }
    let server: tls.Server;
    try {
      server = tls.createServer(serverTlsOptions(entry.credentials, this.handshakeTimeoutMs));
    } catch (err) {
      throw new HboneError('HBONE_CREDENTIALS', `credentials for ${entry.identity}: ${errorMessage(err)}`, { cause: err });
    }
    server.on('secureConnection', (s: tls.TLSSocket) => this.events.secure(s, entry));
    server.on('tlsClientError', (err: Error, s: tls.TLSSocket) => this.events.failed(err, s, entry));
    e = { server, entry };
    this.engines.set(entry.fingerprint, e);
    // Sockets mid-handshake keep a dropped engine alive as long as they need it.
    if (this.engines.size > this.maxEngines) this.engines.delete(this.engines.keys().next().value!);
    return e;
  }
}
