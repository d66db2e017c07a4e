// The network namespace of a pod that was already running when it was enrolled (its namespace
// labelled later, or the agent restarted): no CNI ADD tells us its netns then. The kubelet puts
// every container of a pod in a cgroup named after the pod's uid, so a process whose cgroup
// names the uid lives in the pod, and its /proc/<pid>/ns/net is the pod's netns. ztunnel opens
// and holds that path, so the process may exit afterwards.
import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The pod uid in a /proc/<pid>/cgroup file, for both cgroup drivers: cgroupfs
 * (`/kubepods/burstable/pod<uid>/<container>`) and systemd
 * (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/…`). Pure.
 */
export function podUidFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const cgroupPath = line.slice(line.lastIndexOf(':') + 1);
    const m = /kubepods[^/]*[/-](?:[a-z]+[/-])?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/.exec(cgroupPath);
    if (m) return m[1]!.replace(/_/g, '-');
  }
  return undefined;
}

/**
 * `<procRoot>/<pid>/ns/net` of a process of the pod with `uid`, or undefined when none runs. A
 * process in the agent's own netns (a host-network pod) is never the answer.
 */
export async function findPodNetns(uid: string, procRoot = '/proc'): Promise<string | undefined> {
  const own = await readlink(path.join(procRoot, 'self', 'ns', 'net')).catch(() => undefined);
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (e) {
    throw new Error(`cannot list ${procRoot} to find the netns of pod uid ${uid}: ${(e as Error).message}; is the host's /proc mounted into the agent?`);
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    // Processes come and go while we look: a vanished one is simply not the pod.
    const cgroup = await readFile(path.join(procRoot, pid, 'cgroup'), 'utf8').catch(() => '');
    if (podUidFromCgroup(cgroup) !== uid) continue;
    const netns = path.join(procRoot, pid, 'ns', 'net');
    const link = await readlink(netns).catch(() => undefined);
    if (link === undefined || link === own) continue;
    return netns;
  }
  return undefined;
}
