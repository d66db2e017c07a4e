import t from 'tap';
import { expand, planContainer, REASON_CONFIG, REASON_NO_ENTRYPOINT, resolveFieldRef } from './container.js';
import type { ContainerSpec, PodContext, PodSpec } from './types.js';
import { parsePodSpec } from './validate.js';
import type { PodSpec as StorePodSpec } from '../../../lib/k8s/types.js';

const ctx: PodContext = {
  netns: 'ns1',
  podName: 'web-1',
  namespace: 'shop',
  uid: 'u-1',
  podIP: '10.244.1.5',
  hostIP: '10.0.0.1',
  nodeName: 'node-1',
  labels: { app: 'web', 'app.kubernetes.io/version': 'v2' },
  annotations: { note: 'hi' },
  logDir: '/tmp/x',
};
const pod: PodSpec = { containers: [], serviceAccountName: 'shop-sa' };

t.test('$(VAR) expansion follows Kubernetes', async (t) => {
  const vars: Record<string, string> = { A: 'a', B: 'bee', EMPTY: '' };
  const lookup = (n: string): string | undefined => vars[n];
  const table: Array<[string, string]> = [
    ['plain', 'plain'],
    ['$(A)', 'a'],
    ['x$(A)y$(B)z', 'xaybeez'],
    ['$(MISSING)', '$(MISSING)'],
    ['$$(A)', '$(A)'],
    ['$$$(A)', '$a'],
    ['$$', '$'],
    ['$', '$'],
    ['a$', 'a$'],
    ['$(A', '$(A'],
    ['$x', '$x'],
    ['$(EMPTY)-', '-'],
    ['${A}', '${A}'],
    ['$()', '$()'],
  ];
  for (const [input, want] of table) t.equal(expand(input, lookup), want, JSON.stringify(input));
});

t.test('fieldRef paths', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['metadata.name', 'web-1'],
    ['metadata.namespace', 'shop'],
    ['metadata.uid', 'u-1'],
    ['status.podIP', '10.244.1.5'],
    ['status.podIPs', '10.244.1.5'],
    ['status.hostIP', '10.0.0.1'],
    ['spec.nodeName', 'node-1'],
    ['spec.serviceAccountName', 'shop-sa'],
    ["metadata.labels['app']", 'web'],
    ["metadata.labels['app.kubernetes.io/version']", 'v2'],
    ["metadata.labels['absent']", ''],
    ["metadata.annotations['note']", 'hi'],
    ['spec.containers', undefined],
  ];
  for (const [path, want] of table) t.equal(resolveFieldRef(path, pod, ctx), want, path);
  t.equal(resolveFieldRef('spec.serviceAccountName', { containers: [] }, ctx), 'default');
  t.equal(resolveFieldRef('spec.nodeName', { containers: [], nodeName: 'n9' }, { ...ctx, nodeName: undefined }), 'n9');
});

t.test('command, args and env become argv and environment', async (t) => {
  const c: ContainerSpec = {
    name: 'app',
    image: 'echo:1',
    command: ['/bin/server', '--name=$(POD_NAME)'],
    args: ['--greeting', '$(GREETING) from $(POD_IP)', '$(UNSET)', '$$(POD_NAME)'],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'WHO', value: 'world' },
      { name: 'GREETING', value: 'hello $(WHO) in $(SVC_HOST)' },
      { name: 'LATER_REF', value: '$(DEFINED_AFTER)' },
      { name: 'DEFINED_AFTER', value: 'x' },
      { name: 'PATHISH', value: '$(PATH)' },
    ],
    workingDir: '/srv',
  };
  const r = planContainer(c, 0, pod, { ...ctx, extraEnv: { SVC_HOST: '10.96.0.10' } }, { PATH: '/usr/bin', HOME: '/root' });
  if (!r.ok) throw new Error(r.message);
  t.same(r.plan.argv, ['/bin/server', '--name=web-1', '--greeting', 'hello world in 10.96.0.10 from 10.244.1.5', '$(UNSET)', '$(POD_NAME)']);
  t.equal(r.plan.cwd, '/srv');
  t.equal(r.plan.env.HOSTNAME, 'web-1');
  t.equal(r.plan.env.PATH, '/usr/bin');
  t.equal(r.plan.env.SVC_HOST, '10.96.0.10');
  t.equal(r.plan.env.LATER_REF, '$(DEFINED_AFTER)', 'env only sees variables defined before it');
  t.equal(r.plan.env.PATHISH, '$(PATH)', 'the image environment is not visible to expansion');
});

t.test('container env overrides extraEnv; args without command fail', async (t) => {
  const r = planContainer({ name: 'a', command: ['x', '$(V)'], env: [{ name: 'V', value: 'mine' }] }, 0, pod, { ...ctx, extraEnv: { V: 'svc' } }, {});
  t.ok(r.ok && r.plan.argv[1] === 'mine');
  const noCmd = planContainer({ name: 'app', image: 'nginx:1.27', args: ['-g', 'daemon off;'] }, 2, pod, ctx, {});
  t.notOk(noCmd.ok);
  if (!noCmd.ok) {
    t.equal(noCmd.reason, REASON_NO_ENTRYPOINT);
    t.match(noCmd.message, /pod shop\/web-1 container "app": spec\.containers\[2\]\.command is required/);
    t.match(noCmd.message, /nginx:1\.27/);
  }
});

t.test('unsupported valueFrom is a config error naming the field', async (t) => {
  const bad = planContainer({ name: 'a', command: ['x'], env: [{ name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, 0, pod, ctx, {});
  t.ok(!bad.ok && bad.reason === REASON_CONFIG && /env\[0\] \(S\): valueFrom\.secretKeyRef is not supported/.test(bad.message));
  const badPath = planContainer({ name: 'a', command: ['x'], env: [{ name: 'L', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } }] }, 0, pod, ctx, {});
  t.ok(!badPath.ok && /unsupported fieldRef\.fieldPath "metadata\.labels"/.test(badPath.message));
});

t.test('spec validation names the pod and field', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{}, /spec\.containers: Invalid input/],
    [{ containers: [] }, /spec\.containers: Too small/],
    [{ containers: [{ name: 'Bad_Name' }] }, /spec\.containers\[0\]\.name: must be a DNS label/],
    [{ containers: [{ name: 'a' }, { name: 'a' }] }, /container names must be unique/],
    [{ containers: [{ name: 'a', ports: [{ containerPort: 70000 }] }] }, /spec\.containers\[0\]\.ports\[0\]\.containerPort/],
    [{ containers: [{ name: 'a', readinessProbe: { periodSeconds: 1 } }] }, /readinessProbe: exactly one of httpGet, tcpSocket or exec/],
    [{ containers: [{ name: 'a', livenessProbe: { tcpSocket: { port: 1 }, successThreshold: 2 } }] }, /livenessProbe\.successThreshold: successThreshold must be 1/],
    [{ containers: [{ name: 'a' }], restartPolicy: 'Sometimes' }, /spec\.restartPolicy/],
    [{ containers: [{ name: 'a', env: [{ name: 'X', value: '1', valueFrom: {} }] }] }, /value and valueFrom are mutually exclusive/],
  ];
  for (const [spec, re] of cases) t.throws(() => parsePodSpec(spec, 'ns/p'), re, re.source);
  t.throws(() => parsePodSpec({}, 'shop/web'), /^pod shop\/web: invalid spec/);
  const ok = parsePodSpec({ containers: [{ name: 'a', command: ['x'], resources: {} }], hostNetwork: false }, 'ns/p');
  t.same(ok, { containers: [{ name: 'a', command: ['x'] }] }, 'unknown fields are dropped');
});

t.test("the store's PodSpec type is accepted", async (t) => {
  const s: StorePodSpec = { containers: [{ name: 'a', command: ['x'], env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }] };
  const mine: PodSpec = s;
  t.equal(mine.containers.length, 1);
});
