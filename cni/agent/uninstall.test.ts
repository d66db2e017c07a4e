import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { KubeApiError } from '../../lib/store/kube-status.js';
import { credentialsRevoked, isUninstall, owningDaemonSet, unchainCniConfig } from './uninstall.js';

t.test('an uninstall is a gone or deleted DaemonSet', async (t) => {
  const pod = { metadata: { ownerReferences: [{ kind: 'Node', name: 'n' }, { kind: 'DaemonSet', name: 'ambit-cni-node', controller: true }] } };
  t.equal(owningDaemonSet(pod), 'ambit-cni-node');
  t.equal(owningDaemonSet({ metadata: {} }), undefined, 'a bare pod has no DaemonSet');
  t.equal(owningDaemonSet(undefined), undefined);
  t.equal(isUninstall(undefined), true, 'DaemonSet gone: uninstall');
  t.equal(isUninstall({ metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }), true, 'being deleted: uninstall');
  t.equal(isUninstall({ metadata: {} }), false, 'still there: a restart or an update');
  t.equal(credentialsRevoked(new KubeApiError(401, 'Unauthorized', 'x')), true, 'a token refused (its ServiceAccount deleted)');
  t.equal(credentialsRevoked(new KubeApiError(403, 'Forbidden', 'x')), true, 'rights withdrawn (its ClusterRoleBinding deleted)');
  t.equal(credentialsRevoked(new KubeApiError(503, 'ServiceUnavailable', 'x')), false, 'an unavailable API server is not');
  t.equal(credentialsRevoked(new Error('ECONNREFUSED')), false);
});

t.test('unchaining leaves the node plugins', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-unchain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, '10-ambit.conflist');
  writeFileSync(file, JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, { type: 'portmap' }, { type: 'ambit-cni', agentSocket: '/s' }] }));
  t.equal(await unchainCniConfig(dir), file);
  t.same((JSON.parse(readFileSync(file, 'utf8')) as { plugins: unknown[] }).plugins, [{ type: 'bridge' }, { type: 'portmap' }]);
  t.equal(await unchainCniConfig(dir), undefined, 'a second time: nothing to do');
});
