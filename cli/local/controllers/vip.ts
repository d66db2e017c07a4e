// Service VIPs from 10.96.0.0/16, like kube-apiserver's allocator: a requested clusterIP is kept
// when it is free and in range, otherwise the lowest free address is used. 10.96.0.1 and
// 10.96.0.10 are reserved (the API server and cluster DNS in Kubernetes).
export const SERVICE_CIDR = '10.96.0.0/16';
export const DNS_VIP = '10.96.0.10';
const RESERVED = new Set(['10.96.0.0', '10.96.0.1', DNS_VIP, '10.96.255.255']);

export function inServiceRange(ip: string): boolean {
  const m = /^10\.96\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  return !!m && Number(m[1]) < 256 && Number(m[2]) < 256;
}

export function allocateVip(requested: string | undefined, used: Set<string>): string | { error: string } {
  if (requested && requested !== 'None' && requested !== '') {
    if (!inServiceRange(requested)) return { error: `spec.clusterIP: ${requested} is not in the service range ${SERVICE_CIDR}` };
    if (used.has(requested)) return { error: `spec.clusterIP: ${requested} is already allocated` };
    return requested;
  }
  for (let i = 0; i < 65536; i++) {
    const ip = `10.96.${i >> 8}.${i & 255}`;
    if (!RESERVED.has(ip) && !used.has(ip)) return ip;
  }
  return { error: `spec.clusterIP: the service range ${SERVICE_CIDR} is exhausted` };
}
