// Real namespaces: apply, re-apply, check and remove the in-pod rules with each backend, and
// prove that removal leaves the pod's tables exactly as they were (an unrelated rule survives).
import t from 'tap';
import { exec } from '../../../lib/sys/exec.js';
import { delNetns, inNetns, netnsPath } from '../../../lib/sys/netns.js';
import { addTestNetns } from '../../../lib/sys/testkit.js';
import { PodRedirector } from './redirect.js';
import { ipRules, iptablesDump, nftDump, requireRoot } from './testkit.js';
import type { BackendPreference } from './backend.js';

requireRoot('cni/agent/rules/redirect.test');

const created: string[] = [];
t.teardown(async () => {
  for (const ns of created) await delNetns(ns);
});

interface Variant {
  backend: BackendPreference;
  /** How to dump the state that must come back after removal. */
  dump: (ns: string) => Promise<string>;
  unrelated: (ns: string) => Promise<void>;
}

const iptablesVariant = (suffix: '-legacy' | '-nft'): Variant => ({
  backend: `iptables${suffix}`,
  dump: async (ns) => [
    await iptablesDump(ns, `iptables${suffix}-save`), await iptablesDump(ns, `ip6tables${suffix}-save`), await ipRules(ns),
  ].join('\n--\n'),
  unrelated: async (ns) => {
    await inNetns(ns, `iptables${suffix}-restore`, ['--noflush'], {
      input: '*filter\n-A INPUT -s 192.0.2.9/32 -j DROP\nCOMMIT\n*nat\n-A OUTPUT -d 192.0.2.1/32 -j RETURN\nCOMMIT\n' +
        '*mangle\n:KEEP - [0:0]\n-A PREROUTING -j KEEP\n-A KEEP -j MARK --set-xmark 0x1000/0x1000\nCOMMIT\n',
    });
    await inNetns(ns, `ip6tables${suffix}-restore`, ['--noflush'], { input: '*nat\n-A OUTPUT -d 2001:db8::1/128 -j RETURN\nCOMMIT\n' });
    await exec('ip', ['-n', ns, 'rule', 'add', 'fwmark', '0x2', 'pref', '1000', 'lookup', 'main']);
  },
});

const variants: Variant[] = [
  iptablesVariant('-legacy'),
  iptablesVariant('-nft'),
  {
    backend: 'nft',
    dump: async (ns) => [await nftDump(ns), await ipRules(ns)].join('\n--\n'),
    unrelated: async (ns) => {
      await inNetns(ns, 'nft', ['-f', '-'], { input: 'table inet other {\n chain input { type filter hook input priority 0; ip saddr 192.0.2.9 drop; }\n}\n' });
      await exec('ip', ['-n', ns, 'rule', 'add', 'fwmark', '0x2', 'pref', '1000', 'lookup', 'main']);
    },
  },
];

for (const [i, v] of variants.entries()) {
  t.test(`backend ${v.backend}`, async (t) => {
    const ns = `trd${process.pid}${i}`;
    created.push(ns);
    await addTestNetns(ns);
    // The nft variant is addressed by path, the others by name: the agent gets both kinds.
    const ref = v.backend === 'nft' ? netnsPath(ns) : ns;
    const r = new PodRedirector({ backend: v.backend });
    await v.unrelated(ns);
    const before = await v.dump(ns);

    t.same((await r.check(ref)).state, 'absent', 'nothing of ours before');
    await r.apply(ref, { ipv6: true });
    const once = await v.dump(ns);
    t.same(await r.check(ref, { ipv6: true }), { state: 'present', missing: [], extra: [] }, 'check: present');
    if (v.backend !== 'nft') {
      t.match(once, /-A ISTIO_PRERT ! -d 127\.0\.0\.1\/32 -p tcp -m tcp ! --dport 15008 .*--to-ports 15006/, 'iptables-save shows the inbound rule');
      t.match(once, /-A ISTIO_OUTPUT ! -d ::1\/128 -p tcp .*--to-ports 15001/, 'and the IPv6 twin');
      t.match(once, /-A OUTPUT -d 192\.0\.2\.1\/32 -j RETURN\n-A OUTPUT -j ISTIO_OUTPUT/, 'the hook goes after the unrelated rule');
    } else {
      t.match(once, /table ip ambit \{/);
      t.match(once, /table ip6 ambit \{/);
      t.match(once, /redirect to :15001/);
    }
    t.match(once, /32764:\s+from all fwmark 0x111\/0xfff lookup 100/, 'ip rule installed');
    t.match(once, /local default dev lo table 100/, 'table 100 route installed');

    await r.apply(ref, { ipv6: true });
    t.equal(await v.dump(ns), once, 'applying twice leaves exactly one copy');

    await r.apply(ref, { ipv6: true, dnsCapture: false });
    t.same((await r.check(ref, { ipv6: true, dnsCapture: false })).state, 'present', 'rebuilt without DNS capture');
    const old = await r.check(ref, { ipv6: true });
    t.equal(old.state, 'partial', 'against the old options it is partial');
    if (v.backend !== 'nft') t.notMatch(await v.dump(ns), /ISTIO_.*CT --zone/, 'raw chains gone');

    await r.apply(ref, { ipv6: false });
    t.same((await r.check(ref, { ipv6: false })).state, 'present', 'IPv6 dropped: present for IPv4 only');
    const v6 = await exec('ip', ['-n', ns, '-6', 'route', 'show', 'table', '100'], { allowFail: true });
    t.equal(v6.stdout.trim(), '', 'IPv6 table 100 route gone');
    t.notMatch((await exec('ip', ['-n', ns, '-6', 'rule', 'show'])).stdout, /32764/, 'IPv6 ip rule gone');

    // Break it the way a crash between steps could, and let check() see it.
    if (v.backend === 'nft') await inNetns(ns, 'nft', ['delete', 'chain', 'ip', 'ambit', 'raw_output']);
    else await inNetns(ns, `iptables${v.backend.slice('iptables'.length)}`, ['-t', 'nat', '-D', 'OUTPUT', '-j', 'ISTIO_OUTPUT']);
    const broken = await r.check(ref);
    t.equal(broken.state, 'partial', 'a missing piece is reported as partial');
    t.ok(broken.missing.length > 0, `missing: ${broken.missing.join('; ')}`);
    await r.apply(ref);
    t.equal((await r.check(ref)).state, 'present', 'apply repairs it');

    await exec('ip', ['-n', ns, 'rule', 'del', 'pref', '32764']);
    t.equal((await r.check(ref)).state, 'partial', 'a missing ip rule is partial');

    await r.remove(ref);
    t.equal(await v.dump(ns), before, 'removal leaves the tables and routing as they were');
    t.same((await r.check(ref)).state, 'absent');
    await r.remove(ref);
    t.equal(await v.dump(ns), before, 'removing twice is fine');
  });
}

t.test('bad input is refused clearly', async (t) => {
  const r = new PodRedirector({ backend: 'nft' });
  await t.rejects(r.apply(`nope${process.pid}`), /network namespace nope\d+ does not exist/);
  await t.rejects(r.apply('/proc/1/ns/net', { ipv4: false }), /at least one family/);
  t.throws(() => new PodRedirector({ backend: 'pf' as BackendPreference }), /not one of auto/);
});

t.test('auto picks iptables when present', async (t) => {
  t.equal(new PodRedirector().backend.kind, 'iptables');
});
