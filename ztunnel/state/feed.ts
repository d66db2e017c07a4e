/**
 * Delta xDS handlers feeding a ProxyState (for the composition root; the proxy never imports
 * this). A thrown error makes XdsClient NACK the response; ProxyState then changed nothing.
 */
import { AuthorizationSchema } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { messageDecoder, type DeltaHandler } from '../../lib/xds/cache.js';
import type { ProxyState } from './state.js';

const decodeAddress = messageDecoder(AddressSchema);
const decodeAuthorization = messageDecoder(AuthorizationSchema);

/** Handler for `type.googleapis.com/istio.workload.Address`. */
export function addressHandler(state: ProxyState): DeltaHandler {
  return (upserts, removals) => {
    // Decode everything first so a bad body rejects the whole response.
    const decoded = upserts.map((r) => ({ name: r.name, address: decodeAddress(r) }));
    state.applyAddresses(decoded, removals);
  };
}

/** Handler for `type.googleapis.com/istio.security.Authorization`. */
export function authorizationHandler(state: ProxyState): DeltaHandler {
  return (upserts, removals) => {
    const decoded = upserts.map((r) => ({ name: r.name, authorization: decodeAuthorization(r) }));
    state.applyAuthorizations(decoded, removals);
  };
}
