// The address plan of a local cluster, as pure data. Every name derives from the cluster prefix,
// which has no '-' so that `${prefix}-` can never be the start of another cluster's names.
//
// Layout (all inside namespaces the cluster owns, nothing in the host's):
//   ${p}-fabric   bridge br0, the "wire" every node and the control plane plug into (no address)
//   ${p}-control  eth0 10.240.0.2/24 (control plane) + 10.240.0.3/24 (cluster DNS server)
//   ${p}-node-i   eth0 10.240.0.(10+i)/24, cni0 10.244.i.1/24 (made by the bridge CNI plugin)
//   ${p}-pod-…    one per pod, eth0 10.244.i.x/24 on its node's cni0
import { createHash } from 'node:crypto';

export const FABRIC_CIDR = '10.240.0.0/24';
export const CONTROL_ADDRESS = '10.240.0.2';
export const DNS_ADDRESS = '10.240.0.3';
export const CLUSTER_POD_CIDR = '10.244.0.0/16';
export const DEFAULT_SERVICE_CIDR = '10.96.0.0/16';
/** Node i gets 10.240.0.(10+i); 244 nodes fit in the /24. */
export const MAX_NODES = 244;
export const FABRIC_BRIDGE = 'br0';
/** The pods' bridge in each node namespace (the CNI bridge plugin creates it). */
export const POD_BRIDGE = 'cni0';

const PREFIX_RE = /^[a-z][a-z0-9]{0,11}$/;
// Kubernetes namespaces are DNS-1123 labels; pod names are DNS-1123 subdomains.
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const POD_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface NodeNetwork {
  /** 1-based. */
  index: number;
  /** The node's Kubernetes name (`node-1`). */
  name: string;
  netns: string;
  netnsPath: string;
  /** The node's address on the fabric (its eth0). */
  address: string;
  podCIDR: string;
  /** The node's own address on cni0: the pods' default gateway. */
  podGateway: string;
}

export interface ClusterNetwork {
  prefix: string;
  fabric: { netns: string; netnsPath: string; bridge: string; cidr: string };
  control: { netns: string; netnsPath: string; address: string; dnsAddress: string };
  nodes: NodeNetwork[];
  clusterPodCIDR: string;
  serviceCIDR: string;
}

export interface PlanOptions {
  prefix: string;
  nodes: number;
  serviceCIDR?: string;
}

export function validatePrefix(prefix: string): void {
  if (!PREFIX_RE.test(prefix)) {
    throw new Error(`cluster prefix ${JSON.stringify(prefix)}: use 1-12 lowercase letters and digits, starting with a letter`);
  }
}

export function planCluster(opts: PlanOptions): ClusterNetwork {
  validatePrefix(opts.prefix);
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > MAX_NODES) {
    throw new Error(`nodes: ${opts.nodes} is not a whole number from 1 to ${MAX_NODES}`);
  }
  const p = opts.prefix;
  const nodes: NodeNetwork[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    const netns = `${p}-node-${i}`;
    nodes.push({
      index: i,
      name: `node-${i}`,
      netns,
      netnsPath: `/var/run/netns/${netns}`,
      address: `10.240.0.${10 + i}`,
      podCIDR: `10.244.${i}.0/24`,
      podGateway: `10.244.${i}.1`,
    });
  }
  return {
    prefix: p,
    fabric: { netns: `${p}-fabric`, netnsPath: `/var/run/netns/${p}-fabric`, bridge: FABRIC_BRIDGE, cidr: FABRIC_CIDR },
    control: { netns: `${p}-control`, netnsPath: `/var/run/netns/${p}-control`, address: CONTROL_ADDRESS, dnsAddress: DNS_ADDRESS },
    nodes,
    clusterPodCIDR: CLUSTER_POD_CIDR,
    serviceCIDR: opts.serviceCIDR ?? DEFAULT_SERVICE_CIDR,
  };
}

/** `ip -batch` lines, per namespace, that wire the plan up. Namespaces must exist already. */
export function fabricBatches(c: ClusterNetwork): { netns: string; lines: string[] }[] {
  const fabric = ['link set lo up', `link add ${c.fabric.bridge} type bridge`, `link set ${c.fabric.bridge} up`];
  // Each veth is created in the fabric namespace with its peer sent straight into the node's, so
  // no link ever exists in the host's namespace, not even for a moment.
  const plug = (port: string, netns: string) => [
    `link add ${port} type veth peer name eth0 netns ${netns}`,
    `link set ${port} master ${c.fabric.bridge}`,
    `link set ${port} up`,
  ];
  fabric.push(...plug('ctl', c.control.netns));
  for (const n of c.nodes) fabric.push(...plug(`n${n.index}`, n.netns));

  const control = [
    'link set lo up',
    `addr add ${c.control.address}/24 dev eth0`,
    `addr add ${c.control.dnsAddress}/24 dev eth0`,
    'link set eth0 up',
    ...c.nodes.map((n) => `route add ${n.podCIDR} via ${n.address}`),
  ];
  const nodes = c.nodes.map((n) => ({
    netns: n.netns,
    lines: [
      'link set lo up',
      `addr add ${n.address}/24 dev eth0`,
      'link set eth0 up',
      ...c.nodes.filter((o) => o.index !== n.index).map((o) => `route add ${o.podCIDR} via ${o.address}`),
      // Only so that a node-local connect() to a VIP finds a route before OUTPUT DNAT rewrites it;
      // a VIP without rules is rejected by the service proxy's filter chain.
      `route add ${c.serviceCIDR} dev eth0`,
    ],
  }));
  return [{ netns: c.fabric.netns, lines: fabric }, { netns: c.control.netns, lines: control }, ...nodes];
}

/** Node sysctls: routing between pods and fabric, and netfilter on bridged frames (same-node VIPs). */
export function nodeSysctls(bridgeNetfilter: boolean): string[] {
  const s = ['net.ipv4.ip_forward=1'];
  if (bridgeNetfilter) s.push('net.bridge.bridge-nf-call-iptables=1');
  return s;
}

/**
 * The pod's namespace name: a file name under /var/run/netns, unique per (namespace, name).
 * '_' cannot occur in either Kubernetes name, so the join is unambiguous; overlong names are cut
 * and made unique with a hash.
 */
export function podNetnsName(prefix: string, namespace: string, name: string): string {
  validatePrefix(prefix);
  if (!NAMESPACE_RE.test(namespace)) throw new Error(`pod ${namespace}/${name}: metadata.namespace ${JSON.stringify(namespace)} is not a DNS-1123 label`);
  if (!POD_NAME_RE.test(name)) throw new Error(`pod ${namespace}/${name}: metadata.name ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  const full = `${prefix}-pod-${namespace}_${name}`;
  if (full.length <= 200) return full;
  const h = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16);
  return `${full.slice(0, 183)}-${h}`;
}
