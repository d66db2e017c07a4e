import t from 'tap';
import { meshCredentialEnv } from './mesh-credentials.js';

t.test('only pods the control plane deployed for a waypoint get the node credential', async (t) => {
  const paths = { caRoot: '/s/ca/root-cert.pem', credentialsDir: '/s/credentials' };
  const table: Array<[string, Record<string, string> | undefined, Record<string, string>]> = [
    ['waypoint pod', { 'gateway.istio.io/managed': 'istio.io-mesh-controller', 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, { AMBIT_CA_ROOT: '/s/ca/root-cert.pem', AMBIT_TOKEN_FILE: '/s/credentials/node-2.token' }],
    ['an application pod', { app: 'web' }, {}],
    ['a pod claiming a gateway name only', { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, {}],
    ['another controller', { 'gateway.istio.io/managed': 'someone-else' }, {}],
    ['no labels', undefined, {}],
  ];
  for (const [what, labels, want] of table) t.same(meshCredentialEnv(labels, 'node-2', paths), want, what);
});
