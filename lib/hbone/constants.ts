// HBONE defaults, as ztunnel uses them.

export const HBONE_PORT = 15008;

const KiB = 1024;
const MiB = 1024 * KiB;

/** HTTP/2 flow control and framing; both ends. */
export const H2_STREAM_WINDOW = 4 * MiB;
export const H2_CONNECTION_WINDOW = 16 * MiB;
export const H2_MAX_FRAME_SIZE = 1 * MiB;
export const H2_SERVER_MAX_CONCURRENT_STREAMS = 200;
export const H2_SERVER_MAX_HEADER_LIST = 64 * KiB;
export const H2_CLIENT_MAX_HEADER_LIST = 16 * KiB;
/**
 * node:http2's per-session memory cap, in MB, for code that still talks HBONE through node:http2
 * (the bench's "before" figure). Its default (10) is below one connection window, and nghttp2
 * then answers bulk transfers with ENHANCE_YOUR_CALM. lib/hbone's own transport does not use it.
 */
export const H2_MAX_SESSION_MEMORY_MB = 64;

/** PING every 10 s; a PING unanswered for 20 s drops the connection. */
export const KEEPALIVE_INTERVAL_MS = 10_000;
export const KEEPALIVE_TIMEOUT_MS = 20_000;

export const CONNECT_TIMEOUT_MS = 10_000;
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** TLS handshakes in progress per HBONE listener before new sockets are shed. */
export const HBONE_MAX_HANDSHAKES_PER_LISTENER = 128;
/** At that cap, a handshake in progress this long is reset to make room (a real one takes milliseconds). */
export const HBONE_STALE_HANDSHAKE_MS = 1_000;

export const POOL_MAX_STREAMS_PER_CONNECTION = 100;
export const POOL_IDLE_TIMEOUT_MS = 5 * 60_000;

/** TLS 1.3 suites; Node takes them in `ciphers` (it has no `ciphersuites` option). No ChaCha20, as ztunnel. */
export const TLS13_CIPHERS = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';
export const ALPN_H2 = ['h2'];
