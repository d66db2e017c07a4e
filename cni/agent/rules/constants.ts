// The numbers of in-pod redirection, equal to Istio's so its tooling and docs apply. ztunnel sets ZTUNNEL_MARK on every socket it
// opens in a pod, so these must stay equal to its packet mark.

/** SO_MARK of every ztunnel socket in the pod: such packets are never redirected. */
export const ZTUNNEL_MARK = 0x539;
/** Connmark of connections ztunnel opened to the local app with a spoofed source. */
export const TPROXY_MARK = 0x111;
/** Only the low 12 bits are ours: other marks (e.g. a CNI's) stay untouched. */
export const MARK_MASK = 0xfff;
export const RESTORE_MASK = 0xffffffff;
export const ROUTE_TABLE = 100;
export const RULE_PRIORITY = 32764;

export const PORT_OUTBOUND = 15001;
export const PORT_INBOUND_PLAINTEXT = 15006;
export const PORT_INBOUND_HBONE = 15008;
export const PORT_DNS = 15053;

export const PROBE_SNAT_V4 = '169.254.7.127';
export const PROBE_SNAT_V6 = 'fd16:9254:7127:1337:ffff:ffff:ffff:ffff';

/** Chain names inside the pod, as Istio names them, so that its tooling and docs apply. */
export const CHAIN_PRERT = 'ISTIO_PRERT';
export const CHAIN_OUTPUT = 'ISTIO_OUTPUT';
export const OWN_CHAINS: readonly string[] = [CHAIN_PRERT, CHAIN_OUTPUT];

/** Our own nftables table in the pod (one per family), replaced or deleted as a whole. */
export const NFT_TABLE = 'ambit';

export type Family = 4 | 6;

export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

export const ZTUNNEL_MARK_MATCH = `${hex(ZTUNNEL_MARK)}/${hex(MARK_MASK)}`;
export const TPROXY_MARK_MATCH = `${hex(TPROXY_MARK)}/${hex(MARK_MASK)}`;
