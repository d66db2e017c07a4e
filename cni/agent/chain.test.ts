import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { chainCniConfig, chainInto, primaryConfig, unchainFrom } from './chain.js';

const ENTRY = { type: 'ambit-cni', agentSocket: '/var/run/ambit/cni.sock' };

t.test('the primary configuration is the lexically first one', async (t) => {
  t.equal(primaryConfig(['20-b.conflist', '10-a.conf', 'README', '.hidden.conf', '05-x.json']), '05-x.json');
  t.equal(primaryConfig(['README']), undefined);
});

t.test('chaining: appended last, replaced when present, a conf becomes a conflist', async (t) => {
  const list = { cniVersion: '1.0.0', name: 'k8s', plugins: [{ type: 'calico' }, { type: 'portmap' }] };
  const once = chainInto(list, ENTRY, 'f');
  t.same(once.conflist.plugins.map((p) => p.type), ['calico', 'portmap', 'ambit-cni']);
  t.ok(once.changed);
  t.notOk(chainInto(once.conflist, ENTRY, 'f').changed, 'again: nothing to do');
  const moved = chainInto({ ...list, plugins: [{ type: 'calico' }, { ...ENTRY, agentSocket: '/old' }, { type: 'portmap' }] }, ENTRY, 'f');
  t.same(moved.conflist.plugins, [{ type: 'calico' }, { type: 'portmap' }, ENTRY], 'an old entry is replaced and moved last');
  const single = chainInto({ cniVersion: '0.4.0', name: 'bridge-net', type: 'bridge', bridge: 'cni0' }, ENTRY, 'f');
  t.same(single.conflist, { cniVersion: '0.4.0', name: 'bridge-net', plugins: [{ type: 'bridge', bridge: 'cni0' }, ENTRY] });
  t.same(unchainFrom(once.conflist).conflist, list);
  t.throws(() => chainInto([], ENTRY, '/x.conf'), /\/x.conf: not a CNI configuration/);
  t.throws(() => chainInto({ name: 'n' }, ENTRY, '/x.conf'), /neither "plugins" nor "type"/);
});

t.test('in a directory', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-netd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(chainCniConfig(dir, ENTRY), /holds no CNI configuration yet/);
  writeFileSync(path.join(dir, '10-bridge.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'bridge' }));
  writeFileSync(path.join(dir, '99-other.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'o', plugins: [{ type: 'x' }] }));
  const r = await chainCniConfig(dir, ENTRY);
  t.same(r, { file: path.join(dir, '10-bridge.conflist'), changed: true });
  t.same(readdirSync(dir).sort(), ['10-bridge.conflist', '99-other.conflist'], 'the .conf became a .conflist; other files untouched');
  t.same(JSON.parse(readFileSync(r.file, 'utf8')).plugins.map((p: { type: string }) => p.type), ['bridge', 'ambit-cni']);
  t.same(await chainCniConfig(dir, ENTRY), { file: r.file, changed: false }, 'idempotent');
  writeFileSync(path.join(dir, '00-broken.conflist'), '{');
  await t.rejects(chainCniConfig(dir, ENTRY), /00-broken.conflist: not valid JSON/);
});
