import t from 'tap';
import type { Pod } from '../../../lib/k8s/types.js';
import { placePod, requirementMatches, type NodeInfo } from './placement.js';

const nodes: NodeInfo[] = [
  { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1', zone: 'a', cores: '2' } },
  { name: 'node-2', labels: { 'kubernetes.io/hostname': 'node-2', zone: 'b', cores: '8' } },
  { name: 'node-3', labels: { 'kubernetes.io/hostname': 'node-3' } },
];

function pod(spec: Record<string, unknown>): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c' }], ...spec } } as Pod;
}

function affinity(terms: unknown[]): Record<string, unknown> {
  return { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } };
}

t.test('placement', async (t) => {
  const counts = new Map([['node-1', 3], ['node-2', 1], ['node-3', 1]]);
  const cases: Array<[string, Record<string, unknown>, string | RegExp]> = [
    ['fewest pods, ties by name', {}, 'node-2'],
    ['nodeSelector', { nodeSelector: { zone: 'a' } }, 'node-1'],
    ['nodeSelector matching nothing', { nodeSelector: { zone: 'z' } }, /no node of 3 matches spec.nodeSelector \{"zone":"z"\}/],
    // What the DaemonSet controller writes for the pod of one node.
    ['DaemonSet matchFields metadata.name', affinity([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-3'] }] }]), 'node-3'],
    ['matchExpressions Exists', affinity([{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }]), 'node-2'],
    ['matchExpressions DoesNotExist', affinity([{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }]), 'node-3'],
    ['matchExpressions NotIn', affinity([{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }]), 'node-3'],
    ['matchExpressions Gt', affinity([{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }]), 'node-2'],
    ['matchExpressions Lt', affinity([{ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }]), 'node-1'],
    ['terms are ORed', affinity([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-9'] }] }, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }]), 'node-1'],
    ['requirements in a term are ANDed', affinity([{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }, { key: 'cores', operator: 'In', values: ['2'] }] }]), 'node-1'],
    ['an empty term matches no node', affinity([{}]), /no node of 3 matches the required node affinity/],
    ['selector and affinity together', { nodeSelector: { zone: 'b' }, ...affinity([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }]) }, /spec.nodeSelector \{"zone":"b"\} and the required node affinity/],
    ['unknown operator names the field', affinity([{ matchExpressions: [{ key: 'zone', operator: 'Near' }] }]), /nodeSelectorTerms\[0\]\.matchExpressions\[0\]: operator "Near" of key "zone"/],
    ['unsupported field names the field', affinity([{ matchFields: [{ key: 'spec.unschedulable', operator: 'In', values: ['x'] }] }]), /nodeSelectorTerms\[0\]\.matchFields\[0\]: operator "unsupported field "spec.unschedulable""/],
  ];
  for (const [name, spec, want] of cases) {
    const got = placePod(pod(spec), nodes, counts);
    if (typeof want === 'string') t.equal(got, want, name);
    else t.match(typeof got === 'object' ? got.error : `placed on ${got}`, want, name);
  }
});

t.test('requirement operators on an absent label', async (t) => {
  t.equal(requirementMatches({ key: 'k', operator: 'In', values: ['x'] }, undefined), false);
  t.equal(requirementMatches({ key: 'k', operator: 'NotIn', values: ['x'] }, undefined), true);
  t.equal(requirementMatches({ key: 'k', operator: 'Gt', values: ['1'] }, undefined), false);
  t.equal(requirementMatches({ key: 'k', operator: 'Gt', values: ['x'] }, '5'), false);
});
