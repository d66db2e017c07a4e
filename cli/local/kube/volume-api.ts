// The volume sources of Kubernetes mode, read from the API server as kubelet would.
import type { KubeStore } from '../../../lib/store/kube.js';
import type { VolumeApi } from '../runtime/volume-files.js';

const ns = (n: string): string => `/api/v1/namespaces/${encodeURIComponent(n)}`;

export function kubeVolumeApi(store: KubeStore): VolumeApi {
  return {
    configMap: (namespace, name) => store.getPath(`${ns(namespace)}/configmaps/${encodeURIComponent(name)}`),
    secret: (namespace, name) => store.getPath(`${ns(namespace)}/secrets/${encodeURIComponent(name)}`),
    async token(r) {
      const res = await store.client.request<{ status?: { token?: string; expirationTimestamp?: string } }>({
        method: 'POST',
        path: `${ns(r.namespace)}/serviceaccounts/${encodeURIComponent(r.serviceAccount)}/token`,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: {
            ...(r.audience ? { audiences: [r.audience] } : {}),
            expirationSeconds: r.expirationSeconds,
            boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: r.podName, ...(r.podUid ? { uid: r.podUid } : {}) },
          },
        },
      });
      const token = res.status?.token;
      const expiresAt = Date.parse(res.status?.expirationTimestamp ?? '');
      if (!token || Number.isNaN(expiresAt)) throw new Error(`TokenRequest for serviceaccount ${r.namespace}/${r.serviceAccount}: no token in the answer`);
      return { token, expiresAt };
    },
  };
}
