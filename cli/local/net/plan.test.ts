import t from 'tap';
import { fabricBatches, nodeSysctls, planCluster, podNetnsName, validatePrefix } from './plan.js';

t.test('planCluster names everything from the prefix', async (t) => {
  const c = planCluster({ prefix: 'ambit', nodes: 3 });
  t.equal(c.fabric.netns, 'ambit-fabric');
  t.equal(c.control.netns, 'ambit-control');
  t.equal(c.control.address, '10.240.0.2');
  t.equal(c.control.dnsAddress, '10.240.0.3');
  t.same(
    c.nodes.map((n) => [n.name, n.netns, n.address, n.podCIDR, n.podGateway]),
    [
      ['node-1', 'ambit-node-1', '10.240.0.11', '10.244.1.0/24', '10.244.1.1'],
      ['node-2', 'ambit-node-2', '10.240.0.12', '10.244.2.0/24', '10.244.2.1'],
      ['node-3', 'ambit-node-3', '10.240.0.13', '10.244.3.0/24', '10.244.3.1'],
    ],
  );
  t.equal(c.nodes[0]!.netnsPath, '/var/run/netns/ambit-node-1');
  t.equal(c.serviceCIDR, '10.96.0.0/16');
});

t.test('bad plans are rejected with the field', async (t) => {
  t.throws(() => planCluster({ prefix: 'Ambit', nodes: 1 }), /cluster prefix "Ambit"/);
  t.throws(() => planCluster({ prefix: 'a-b', nodes: 1 }), /cluster prefix/);
  t.throws(() => planCluster({ prefix: 'abcdefghijklm', nodes: 1 }), /cluster prefix/);
  t.throws(() => planCluster({ prefix: 'ok', nodes: 0 }), /nodes: 0/);
  t.throws(() => planCluster({ prefix: 'ok', nodes: 245 }), /nodes: 245/);
  t.doesNotThrow(() => validatePrefix('a1b2c3'));
});

t.test('fabricBatches wires nodes and control through the fabric, routes pod CIDRs', async (t) => {
  const c = planCluster({ prefix: 'x1', nodes: 2 });
  const b = fabricBatches(c);
  t.same(b.map((x) => x.netns), ['x1-fabric', 'x1-control', 'x1-node-1', 'x1-node-2']);
  t.ok(b[0]!.lines.includes('link add n2 type veth peer name eth0 netns x1-node-2'));
  t.ok(b[0]!.lines.includes('link add ctl type veth peer name eth0 netns x1-control'));
  t.ok(b[1]!.lines.includes('addr add 10.240.0.3/24 dev eth0'));
  t.ok(b[1]!.lines.includes('route add 10.244.2.0/24 via 10.240.0.12'));
  const n1 = b[2]!.lines;
  t.ok(n1.includes('route add 10.244.2.0/24 via 10.240.0.12'));
  t.notOk(n1.some((l) => l.includes('10.244.1.0/24')), 'no route to its own pod CIDR (cni0 provides it)');
  t.ok(n1.includes('route add 10.96.0.0/16 dev eth0'));
  t.same(nodeSysctls(true), ['net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1']);
  t.same(nodeSysctls(false), ['net.ipv4.ip_forward=1']);
});

t.test('podNetnsName is unique, safe and bounded', async (t) => {
  t.equal(podNetnsName('ambit', 'default', 'web-1'), 'ambit-pod-default_web-1');
  t.not(podNetnsName('p', 'a-b', 'c'), podNetnsName('p', 'a', 'b-c'));
  const long = podNetnsName('p', 'n'.repeat(63), 'x'.repeat(253));
  t.ok(long.length <= 200);
  t.not(long, podNetnsName('p', 'n'.repeat(63), 'x'.repeat(252) + 'y'));
  t.throws(() => podNetnsName('p', 'default', '../etc'), /metadata.name/);
  t.throws(() => podNetnsName('p', 'Default', 'a'), /metadata.namespace/);
  t.throws(() => podNetnsName('p', 'default', 'a/b'), /metadata.name/);
});
