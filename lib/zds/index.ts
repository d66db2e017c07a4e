export { ZdsClient, ZDS_CLIENT_BACKOFF, type ZdsClientOptions, type ZdsHandler } from './client.js';
export { ZdsError, isZdsError, type ZdsErrorCode } from './errors.js';
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder } from './framing.js';
export { ZDS_VERSION, type ZdsRequest, type ZdsWorkload } from './messages.js';
export { ZdsServer, type ZdsConnectionStatus, type ZdsPod, type ZdsServerOptions } from './server.js';
