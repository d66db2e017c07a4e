// ztunnel's data path: per-pod outbound, inbound HBONE and inbound plaintext proxies. Reads state
// only through StateView (ARCHITECTURE.md §5).
export { ConnectionManager, type ConnectionSummary, type TrackedConnection } from './connection-manager.js';
export type { CertificateSource, PodContext, ProxyInputs } from './context.js';
export { copyBidirectional, type Copy, type CopyTotals } from './copy.js';
export { ProxyError, type ProxyErrorCode } from './errors.js';
export { handOff, handoffRequest, type HandoffSource } from './handoff.js';
export { guessService, inboundHandler } from './inbound.js';
export { InboundPassthrough } from './inbound-passthrough.js';
export { handoffTarget, LocalPods, type Handoff, type LocalInbound } from './local-pods.js';
export { Outbound } from './outbound.js';
export { PodProxy, type PodInfo, type PodListeners, type PodProxyOptions, type PodProxyStats } from './pod-proxy.js';
export * from './ports.js';
export { netnsPodNet, type PodNet } from './sockets.js';
export { ConnectionRecord, peerLabels, serviceLabels, workloadBaggage, type ProxyTelemetry } from './telemetry.js';
