// Where `ambit up --kubernetes` finds the Kubernetes control-plane binaries: the pinned builds of
// test/k8s/setup (versions in test/k8s/versions.json), cached under /var/cache/ambit by version.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface KubeBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
  helm: string;
}

export interface KubeVersions {
  kubernetes: string;
  etcd: string;
  helm: string;
}

/** The binaries' paths for these versions under a cache directory (pure). */
export function binaryPaths(cache: string, v: KubeVersions): KubeBinaries {
  const kube = path.join(cache, 'k8s', `kubernetes-${v.kubernetes}`, 'bin');
  return {
    etcd: path.join(cache, 'k8s', `etcd-${v.etcd}`, 'bin', 'etcd'),
    kubeApiserver: path.join(kube, 'kube-apiserver'),
    kubeControllerManager: path.join(kube, 'kube-controller-manager'),
    kubectl: path.join(kube, 'kubectl'),
    helm: path.join(cache, 'k8s', `helm-${v.helm}`, 'bin', 'helm'),
  };
}

/**
 * Reads the pinned versions from `<repo>/test/k8s/versions.json` and checks that the binaries
 * the cluster runs exist; the error names each missing file and the script that builds it.
 */
export function findBinaries(repoRoot: string, env: NodeJS.ProcessEnv = process.env): KubeBinaries {
  const versionsFile = path.join(repoRoot, 'test', 'k8s', 'versions.json');
  if (!existsSync(versionsFile)) throw new Error(`--kubernetes: ${versionsFile} is missing; it pins the Kubernetes, etcd and helm versions test/k8s/setup builds`);
  const v = JSON.parse(readFileSync(versionsFile, 'utf8')) as KubeVersions;
  const b = binaryPaths(env.AMBIT_CACHE ?? '/var/cache/ambit', v);
  const missing = [b.etcd, b.kubeApiserver, b.kubeControllerManager].filter((p) => {
    try {
      accessSync(p, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) throw new Error(`--kubernetes: missing ${missing.join(', ')}; run test/k8s/setup first (it builds kube-apiserver ${v.kubernetes}, etcd ${v.etcd} and helm ${v.helm}, cached by version)`);
  return b;
}
