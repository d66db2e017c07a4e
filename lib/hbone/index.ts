// HBONE: HTTP/2 CONNECT over mutual TLS 1.3, the mesh's tunnel (ARCHITECTURE.md §2).
export * from './authority.js';
export * from './client.js';
export * from './constants.js';
export * from './copy.js';
export * from './errors.js';
export * from './headers.js';
export * from './keepalive.js';
export * from './pool.js';
export * from './server.js';
export * from './tls.js';
