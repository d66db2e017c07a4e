/** The local cluster's DNS server (CoreDNS's role in `ambit up`). */
export { runClusterDns, type ClusterDns, type ClusterDnsOptions } from './main.js';
export { ClusterDnsServer, type BoundAddress, type DnsServerOptions, type DnsServerStats } from './server.js';
export {
  buildSnapshot,
  DEFAULT_RECORD_OPTIONS,
  type ClusterData,
  type DnsSnapshot,
  type EndpointInput,
  type PodInput,
  type PortInput,
  type RecordOptions,
  type ServiceInput,
} from './records.js';
export { lookup, type LookupResult } from './lookup.js';
export { clusterDataFromKube } from './kube.js';
