// Golden tables for the node-side probe SNAT renderers and parsers.
import t from 'tap';
import {
  DEFAULT_PROBE_NAMES, ipsetCreateArgs, parseIpsetSave, parseNftSet, probeIptablesRules, renderProbeNftAdd, renderProbeNftDelete,
  renderProbeNftSetup,
} from './host-probe.js';
import { parseIptablesSave, planApply } from './iptables.js';

const N = DEFAULT_PROBE_NAMES;

t.test('iptables + ipset: the reference rule, hooked first into POSTROUTING', async (t) => {
  const rules = probeIptablesRules(N, 4, '169.254.7.127');
  t.equal(planApply(new Map(), rules, [N.chain]), [
    '*nat',
    ':ISTIO_POSTRT - [0:0]',
    '-I POSTROUTING 1 -j ISTIO_POSTRT',
    '-A ISTIO_POSTRT -p tcp -m owner --socket-exists -m set --match-set istio-inpod-probes-v4 dst -j SNAT --to-source 169.254.7.127',
    'COMMIT',
    '',
  ].join('\n'));
  const existing = parseIptablesSave('*nat\n:POSTROUTING ACCEPT [0:0]\n:ISTIO_POSTRT - [0:0]\n-A POSTROUTING -j ISTIO_POSTRT\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n');
  t.match(planApply(existing, rules, [N.chain]), /-D POSTROUTING -j ISTIO_POSTRT\n-I POSTROUTING 1 -j ISTIO_POSTRT\n/, 'reapplying re-inserts the hook once');
  t.same(ipsetCreateArgs(N, 6), ['create', 'istio-inpod-probes-v6', 'hash:ip', 'family', 'inet6', 'comment', '-exist']);
  t.same([...parseIpsetSave('create istio-inpod-probes-v4 hash:ip family inet comment\nadd istio-inpod-probes-v4 10.244.1.5 comment "uid-1"\nadd istio-inpod-probes-v4 10.244.1.6\n')],
    [['10.244.1.5', 'uid-1'], ['10.244.1.6', '']]);
});

t.test('nft: setup keeps elements, add re-labels, delete is idempotent', async (t) => {
  t.equal(renderProbeNftSetup(N, 4, '169.254.7.127'), [
    'add table ip ambit_probes',
    'add set ip ambit_probes pods { type ipv4_addr; }',
    'add chain ip ambit_probes postrouting { type nat hook postrouting priority 99; policy accept; }',
    'flush chain ip ambit_probes postrouting',
    'add rule ip ambit_probes postrouting meta l4proto tcp meta skuid 0-4294967295 ip daddr @pods snat to 169.254.7.127',
    '',
  ].join('\n'));
  t.equal(renderProbeNftAdd(N, 6, 'fd00::5', 'uid-2'),
    'add element ip6 ambit_probes pods { fd00::5 }\ndelete element ip6 ambit_probes pods { fd00::5 }\nadd element ip6 ambit_probes pods { fd00::5 comment "uid-2" }\n');
  t.equal(renderProbeNftDelete(N, 4, '10.0.0.1'), 'add element ip ambit_probes pods { 10.0.0.1 }\ndelete element ip ambit_probes pods { 10.0.0.1 }\n');
  t.throws(() => renderProbeNftAdd(N, 4, '10.0.0.1', 'a"b'), /pod UID/);
  const json = '{"nftables": [{"metainfo": {}}, {"set": {"name": "pods", "elem": [{"elem": {"val": "10.0.0.5", "comment": "uid-1"}}, "10.0.0.6"]}}]}';
  t.same([...parseNftSet(json)], [['10.0.0.5', 'uid-1'], ['10.0.0.6', '']]);
});
