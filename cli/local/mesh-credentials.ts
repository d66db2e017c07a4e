// What the local runtime gives the containers of waypoint pods (those the control plane deployed,
// labelled `gateway.istio.io/managed: istio.io-mesh-controller`): the mesh root and the node's
// credential, the same files the node's ztunnel uses. With the node credential as bearer token
// the control plane's node authorizer lets the pod obtain a certificate for its own service
// account, because the pod runs on that node (ARCHITECTURE.md §2, Certificates). Other pods get
// nothing: an application pod never holds the node's credential. Pure.
import path from 'node:path';
import { GATEWAY_LABELS, MANAGED_BY_MESH_CONTROLLER } from '../../lib/k8s/gateway.js';

export interface MeshCredentialPaths {
  /** `<state>/ca/root-cert.pem`. */
  caRoot: string;
  /** `<state>/credentials`, holding `<node>.token`. */
  credentialsDir: string;
}

export function meshCredentialEnv(labels: Readonly<Record<string, string>> | undefined, node: string, paths: MeshCredentialPaths): Record<string, string> {
  if (labels?.[GATEWAY_LABELS.managed] !== MANAGED_BY_MESH_CONTROLLER) return {};
  return { AMBIT_CA_ROOT: paths.caRoot, AMBIT_TOKEN_FILE: path.join(paths.credentialsDir, `${node}.token`) };
}
