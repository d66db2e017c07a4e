// The CA's record of what it issued: the last certificate per identity (serial, expiry), for the
// dashboard. In memory: a restarted control plane learns them again as workloads renew.
import type { CreateCertificateResult } from './service.js';

export interface IssuedCertificate {
  identity: string;
  serialNumber: string;
  notAfter: string;
  issuedAt: string;
}

export class IssuedCertificates {
  private readonly byIdentity = new Map<string, IssuedCertificate>();

  constructor(private readonly now: () => number = Date.now) {}

  record(r: CreateCertificateResult): void {
    if (!r.ok) return;
    this.byIdentity.set(r.identity, { identity: r.identity, serialNumber: r.serialNumber, notAfter: r.notAfter.toISOString(), issuedAt: new Date(this.now()).toISOString() });
  }

  get all(): ReadonlyMap<string, IssuedCertificate> {
    return this.byIdentity;
  }
}
