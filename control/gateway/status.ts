// The status of a waypoint Gateway, from what the controller found. Pure. Accepted says whether the
// Gateway is a waypoint Ambit can deploy (False names the field at fault); Programmed turns True
// once the waypoint's Deployment has a ready replica behind its Service. `status.addresses`
// (the Service's cluster IP and its DNS name) is only reported from then on, as Istio does: the
// mesh binds services to a waypoint only once it has an address, so no traffic is sent to a
// waypoint that cannot serve it. Once reported, an address stays while the Service exists, so a
// waypoint restarting does not unbind every service from it.
import type { KubeObject } from '../../lib/store/types.js';
import type { Deployment, Service } from '../../lib/k8s/types.js';
import { GATEWAY_LABELS, WAYPOINT_LISTENER, gatewayAddresses, type GatewayAddress } from '../../lib/k8s/gateway.js';
import type { Condition } from '../model/types.js';
import type { Classification } from './classify.js';

/** The condition types this controller owns on Gateways. */
export const GATEWAY_CONDITIONS = ['Accepted', 'Programmed'] as const;

export interface StatusInput {
  gateway: KubeObject;
  classification: Classification;
  deployment?: Deployment;
  service?: Service;
  /** Set when an object the waypoint needs exists but is not ours, e.g. `Deployment ns/name`. */
  conflict?: string;
  domainSuffix: string;
}

export interface GatewayStatus {
  addresses: GatewayAddress[];
  conditions: Condition[];
}

const cond = (type: string, status: 'True' | 'False', reason: string, message: string): Condition => ({ type, status, reason, message });

export function hostnameOf(service: { namespace: string; name: string }, domainSuffix: string): string {
  return `${service.name}.${service.namespace}.svc.${domainSuffix}`;
}

function addressesOf(svc: Service, domainSuffix: string): GatewayAddress[] {
  const out: GatewayAddress[] = [];
  if (svc.spec.clusterIP && svc.spec.clusterIP !== 'None') out.push({ type: 'IPAddress', value: svc.spec.clusterIP });
  out.push({ type: 'Hostname', value: hostnameOf(svc.metadata, domainSuffix) });
  return out;
}

/** Undefined for Gateways the controller leaves alone. */
export function gatewayStatus(i: StatusInput): GatewayStatus | undefined {
  const c = i.classification;
  if (c.kind === 'ignore') return undefined;
  if (c.kind === 'invalid') {
    return {
      addresses: [],
      conditions: [
        cond('Accepted', 'False', c.refusal.reason, c.refusal.message),
        cond('Programmed', 'False', 'Invalid', `not deployed: fix ${c.refusal.field} first (see condition Accepted)`),
      ],
    };
  }
  const ns = i.gateway.metadata.namespace ?? '';
  const name = i.gateway.metadata.name;
  const accepted = cond('Accepted', 'True', 'Accepted', 'Resource accepted');
  const pending = (reason: string, message: string): GatewayStatus => {
    // Keep an address already given while the Service is there (see above).
    const keep = i.service && gatewayAddresses(i.gateway).length > 0 ? addressesOf(i.service, i.domainSuffix) : [];
    return { addresses: keep, conditions: [accepted, cond('Programmed', 'False', reason, message)] };
  };
  if (i.conflict) {
    return pending('Invalid', `${i.conflict} already exists and was not created for this waypoint (no label ${GATEWAY_LABELS.managed}); delete it or rename the Gateway`);
  }
  if (!i.deployment || !i.service) {
    const missing = [!i.service && `Service ${ns}/${name}`, !i.deployment && `Deployment ${ns}/${name}`].filter(Boolean).join(' and ');
    return pending('Pending', `waiting for ${missing} to be created`);
  }
  if (!i.service.spec.clusterIP) return pending('AddressNotAssigned', `Service ${ns}/${name} has no cluster IP yet`);
  const want = i.deployment.spec.replicas ?? 1;
  const ready = i.deployment.status?.readyReplicas ?? 0;
  if (ready < 1) {
    return pending('NoResources', `Deployment ${ns}/${name} has ${ready} of ${want} replicas ready`);
  }
  return {
    addresses: addressesOf(i.service, i.domainSuffix),
    conditions: [accepted, cond('Programmed', 'True', 'Programmed', `Resource programmed, assigned to service(s) ${hostnameOf(i.service.metadata, i.domainSuffix)}:${WAYPOINT_LISTENER.port}`)],
  };
}
