// What the embedded metrics source scrapes: every ztunnel and waypoint connected over xDS, at its
// node id's instance IP on Istio's merged-metrics port. Pure.
import { formatHostPort } from '../../lib/net/host-port.js';
import { parseNodeId } from '../xds/admission.js';
import type { ScrapeTarget } from './scrape-source.js';

/** The proxies' Prometheus port (ztunnel and waypoints serve /stats/prometheus there). */
export const PROXY_METRICS_PORT = 15020;

export function scrapeTargets(streams: ReadonlyArray<{ nodeId?: string | undefined }>, port = PROXY_METRICS_PORT): ScrapeTarget[] {
  const out = new Map<string, ScrapeTarget>();
  for (const s of streams) {
    const parsed = s.nodeId === undefined ? 'no node id' : parseNodeId(s.nodeId);
    if (typeof parsed === 'string' || parsed.ip === '') continue;
    const name = `${parsed.type === 'router' ? 'waypoint' : 'ztunnel'}/${parsed.namespace}/${parsed.podName}`;
    out.set(name, { name, url: `http://${formatHostPort(parsed.ip, port)}/stats/prometheus` });
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}
