import t from 'tap';
import { findKind, kindInfo, kindRef, resolveResource, resourceName } from './kinds.js';
import { StoreError } from './types.js';

t.test('command-line names resolve to kinds', async (t) => {
  const table: Array<[string, string, string]> = [
    ['pods', 'v1', 'Pod'],
    ['pod', 'v1', 'Pod'],
    ['po', 'v1', 'Pod'],
    ['Pod', 'v1', 'Pod'],
    ['PODS', 'v1', 'Pod'],
    ['svc', 'v1', 'Service'],
    ['services', 'v1', 'Service'],
    ['ns', 'v1', 'Namespace'],
    ['no', 'v1', 'Node'],
    ['ep', 'v1', 'Endpoints'],
    ['sa', 'v1', 'ServiceAccount'],
    ['cm', 'v1', 'ConfigMap'],
    ['secret', 'v1', 'Secret'],
    ['deploy', 'apps/v1', 'Deployment'],
    ['deployments.apps', 'apps/v1', 'Deployment'],
    ['deployments.v1.apps', 'apps/v1', 'Deployment'],
    ['gateway', 'gateway.networking.k8s.io/v1', 'Gateway'],
    ['gtw', 'gateway.networking.k8s.io/v1', 'Gateway'],
    ['gateways.gateway.networking.k8s.io', 'gateway.networking.k8s.io/v1', 'Gateway'],
    ['httproutes', 'gateway.networking.k8s.io/v1', 'HTTPRoute'],
    ['grpcroute', 'gateway.networking.k8s.io/v1', 'GRPCRoute'],
    ['authorizationpolicies', 'security.istio.io/v1', 'AuthorizationPolicy'],
    ['ap', 'security.istio.io/v1', 'AuthorizationPolicy'],
    ['pa', 'security.istio.io/v1', 'PeerAuthentication'],
    ['vs', 'networking.istio.io/v1', 'VirtualService'],
    ['dr', 'networking.istio.io/v1', 'DestinationRule'],
    ['serviceentries', 'networking.istio.io/v1', 'ServiceEntry'],
    ['se', 'networking.istio.io/v1', 'ServiceEntry'],
    ['rlp', 'ratelimit.ambit.dev/v1alpha1', 'RateLimitPolicy'],
    ['ratelimitpolicies.ratelimit.ambit.dev', 'ratelimit.ambit.dev/v1alpha1', 'RateLimitPolicy'],
  ];
  for (const [input, apiVersion, kind] of table) t.same(kindRef(resolveResource(input)), { apiVersion, kind }, input);
});

t.test('unknown resource names fail clearly', async (t) => {
  for (const bad of ['widgets', 'pods.apps', 'deploy.v1', '']) {
    t.throws(() => resolveResource(bad), StoreError, bad);
  }
  t.throws(() => resolveResource('widgets'), /unknown resource type "widgets"; known types: .*pods \(po\)/);
});

t.test('kind info: known, versions, scope', async (t) => {
  t.equal(findKind({ apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy' })?.version, 'v1', 'older version, same entry');
  t.equal(findKind({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'VirtualService' })?.plural, 'virtualservices');
  t.equal(findKind({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway' }), undefined, 'Istio Gateway is not the Gateway API one');
  t.equal(kindInfo({ apiVersion: 'v1', kind: 'Namespace' }).namespaced, false);
  t.equal(kindInfo({ apiVersion: 'v1', kind: 'Node' }).namespaced, false);
  t.equal(kindInfo({ apiVersion: 'v1', kind: 'Pod' }).namespaced, true);
  t.equal(resourceName(kindInfo({ apiVersion: 'apps/v1', kind: 'Deployment' })), 'deployments.apps');
  t.equal(resourceName(kindInfo({ apiVersion: 'v1', kind: 'Service' })), 'services');
});

t.test('unknown kinds are synthesised, namespaced', async (t) => {
  const table: Array<[string, string, string]> = [
    ['example.com/v1', 'Widget', 'widgets.example.com'],
    ['example.com/v1', 'Policy', 'policies.example.com'],
    ['example.com/v1alpha1', 'Class', 'classes.example.com'],
    ['networking.istio.io/v1', 'Gateway', 'gateways.networking.istio.io'],
  ];
  for (const [apiVersion, kind, resource] of table) {
    const info = kindInfo({ apiVersion, kind });
    t.equal(resourceName(info), resource, kind);
    t.equal(info.namespaced, true);
    t.equal(info.known, false);
  }
});
