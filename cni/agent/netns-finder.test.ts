import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { findPodNetns, podUidFromCgroup } from './netns-finder.js';

const UID = '0f3c2b1a-9d8e-4c7b-a6f5-1e2d3c4b5a69';

t.test('the pod uid in a cgroup file, for both cgroup drivers', async (t) => {
  const table: Array<[string, string, string | undefined]> = [
    ['cgroup v2, systemd', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-abc.scope`, UID],
    ['cgroup v2, systemd, guaranteed', `0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-abc.scope`, UID],
    ['cgroup v1, cgroupfs', `12:memory:/kubepods/besteffort/pod${UID}/4f1a\n11:cpu:/kubepods/besteffort/pod${UID}/4f1a`, UID],
    ['cgroup v1, cgroupfs, guaranteed', `3:pids:/kubepods/pod${UID}/4f1a`, UID],
    ['not a pod', '0::/system.slice/containerd.service', undefined],
    ['empty', '', undefined],
  ];
  for (const [what, text, want] of table) t.equal(podUidFromCgroup(text), want, what);
});

t.test('finds a process of the pod in a /proc tree, never one in the agent\'s own netns', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'ambit-proc-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const proc = (pid: string, cgroup: string, net: string): void => {
    mkdirSync(path.join(root, pid, 'ns'), { recursive: true });
    writeFileSync(path.join(root, pid, 'cgroup'), cgroup);
    symlinkSync(net, path.join(root, pid, 'ns', 'net'));
  };
  proc('self', '0::/', 'net:[1]');
  proc('10', '0::/system.slice/sshd.service', 'net:[1]');
  proc('20', `0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/x.scope`, 'net:[1]'); // host network
  proc('30', `0::/kubepods.slice/kubepods-pod${UID.replace(/-/g, '_')}.slice/y.scope`, 'net:[4026532301]');
  t.equal(await findPodNetns(UID, root), path.join(root, '30', 'ns', 'net'));
  t.equal(await findPodNetns('11111111-2222-3333-4444-555555555555', root), undefined);
  await t.rejects(findPodNetns(UID, path.join(root, 'missing')), /cannot list .*missing.*is the host's \/proc mounted/);
});
