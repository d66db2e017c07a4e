import t from 'tap';
import { computePodStatus, podPhase, statusChanged, type PodStatusInput } from './pod-status.js';
import type { ContainerState, ContainerStatus, PodStatus, RestartPolicy } from './types.js';
import type { PodStatus as StorePodStatus } from '../../../lib/k8s/types.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';
const T2 = '2026-01-01T00:00:09Z';

const running: ContainerState = { running: { startedAt: T0 } };
const waiting: ContainerState = { waiting: { reason: 'ContainerCreating' } };
const crashLoop: ContainerState = { waiting: { reason: 'CrashLoopBackOff' } };
const exited = (exitCode: number): ContainerState => ({ terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', finishedAt: T1 } });

function cs(name: string, state: ContainerState, opts: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, image: 'img', imageID: '', ready: !!state.running, started: !!state.running, restartCount: 0, state, lastState: {}, ...opts };
}

t.test('phase table (kubelet getPhase)', async (t) => {
  const table: Array<[RestartPolicy, ContainerStatus[], string]> = [
    ['Always', [cs('a', waiting)], 'Pending'],
    ['Always', [cs('a', running), cs('b', waiting)], 'Pending'],
    ['Always', [cs('a', running), cs('b', running)], 'Running'],
    ['Always', [cs('a', crashLoop, { lastState: exited(1) })], 'Running'],
    ['Always', [cs('a', exited(0))], 'Running'],
    ['Never', [cs('a', exited(0)), cs('b', exited(0))], 'Succeeded'],
    ['Never', [cs('a', exited(0)), cs('b', exited(1))], 'Failed'],
    ['Never', [cs('a', running), cs('b', exited(1))], 'Running'],
    ['OnFailure', [cs('a', exited(0))], 'Succeeded'],
    ['OnFailure', [cs('a', crashLoop, { lastState: exited(2) })], 'Running'],
    ['OnFailure', [cs('a', exited(1))], 'Running'],
    ['Always', [cs('a', { waiting: { reason: 'InvalidImageEntrypoint' } })], 'Pending'],
    ['Always', [], 'Pending'],
  ];
  for (const [policy, containers, want] of table) {
    t.equal(podPhase(policy, containers), want, `${policy}: ${containers.map((c) => Object.keys(c.state)[0]).join(',')}`);
  }
});

function input(containers: ContainerStatus[], now: string, policy: RestartPolicy = 'Always'): PodStatusInput {
  return { restartPolicy: policy, containers, podIP: '10.244.1.5', hostIP: '10.0.0.1', startTime: T0, now };
}

t.test('conditions and their transition times', async (t) => {
  const s0 = computePodStatus(input([cs('a', running, { ready: false }), cs('b', running)], T0));
  t.equal(s0.phase, 'Running');
  t.same(
    s0.conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', c.lastTransitionTime]),
    [
      ['Initialized', 'True', '', '', T0],
      ['Ready', 'False', 'ContainersNotReady', 'containers with unready status: [a]', T0],
      ['ContainersReady', 'False', 'ContainersNotReady', 'containers with unready status: [a]', T0],
      ['PodScheduled', 'True', '', '', T0],
    ],
  );
  t.same(s0.podIPs, [{ ip: '10.244.1.5' }]);
  t.equal(s0.hostIP, '10.0.0.1');
  t.equal(s0.conditions[0]?.lastProbeTime, null);

  const same = computePodStatus(input([cs('a', running, { ready: false }), cs('b', running)], T1), s0);
  t.notOk(statusChanged(s0, same), 'nothing changed, nothing to write even though time moved');

  const s1 = computePodStatus(input([cs('a', running), cs('b', running)], T1), s0);
  t.ok(statusChanged(s0, s1));
  const ready = s1.conditions.find((c) => c.type === 'Ready');
  t.same(ready, { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: T1 });
  t.equal(s1.conditions.find((c) => c.type === 'Initialized')?.lastTransitionTime, T0);

  const s2 = computePodStatus(input([cs('a', running), cs('b', running, { ready: false })], T2), s1);
  const r2 = s2.conditions.find((c) => c.type === 'Ready');
  t.equal(r2?.lastTransitionTime, T2);
  t.equal(r2?.message, 'containers with unready status: [b]');
  const s3 = computePodStatus(input([cs('a', running, { ready: false }), cs('b', running, { ready: false })], '2026-01-01T00:01:00Z'), s2);
  const r3 = s3.conditions.find((c) => c.type === 'Ready');
  t.equal(r3?.lastTransitionTime, T2, 'a new message is not a transition');
  t.equal(r3?.message, 'containers with unready status: [a b]');
});

t.test('completed pods', async (t) => {
  const s = computePodStatus(input([cs('a', exited(0))], T1, 'Never'));
  t.equal(s.phase, 'Succeeded');
  t.match(s.conditions.find((c) => c.type === 'Ready'), { status: 'False', reason: 'PodCompleted' });
  const f = computePodStatus(input([cs('a', exited(3))], T1, 'Never'));
  t.equal(f.phase, 'Failed');
});

t.test('podIPs and output type', async (t) => {
  const s = computePodStatus({ ...input([cs('a', running)], T0), podIPs: ['10.244.1.5', 'fd00::5'] });
  t.same(s.podIPs, [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }]);
  const store: StorePodStatus = s;
  t.ok(store);
  const copy: PodStatus = structuredClone(s);
  copy.containerStatuses[0]!.restartCount = 1;
  t.ok(statusChanged(s, copy));
  t.ok(statusChanged(undefined, s));
});
