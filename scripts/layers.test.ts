import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { checkEntryModule, checkImport, exportsOf, findCycles, formatCycle, importsOf, parseImports, resolveTarget, scan } from './layers.js';

t.test('import rules', async (t) => {
  const cases: Array<[string, string, string | undefined, boolean]> = [
    ['lib/hbone/client.ts', 'node:http2', undefined, true],
    ['lib/hbone/client.ts', '../identity/spiffe.js', 'lib/identity/spiffe.ts', true],
    ['lib/hbone/client.ts', '../../ztunnel/app.js', 'ztunnel/app.ts', false],
    ['ztunnel/app.ts', '../lib/hbone/client.js', 'lib/hbone/client.ts', true],
    ['ztunnel/app.ts', '../control/app.js', 'control/app.ts', false],
    ['ztunnel/proxy/outbound.ts', '../xds/client.js', 'ztunnel/xds/client.ts', false],
    ['ztunnel/proxy/outbound.ts', '../admin/server.js', 'ztunnel/admin/server.ts', false],
    ['ztunnel/proxy/outbound.ts', '../../lib/xds/client.js', 'lib/xds/client.ts', false],
    ['ztunnel/proxy/outbound.ts', '../state/read.js', 'ztunnel/state/read.ts', true],
    ['waypoint/filters/retry.ts', '../admin/x.js', 'waypoint/admin/x.ts', false],
    ['cli/main.ts', '../control/app.js', 'control/app.ts', false],
    ['cli/local/runner.ts', '../../test/fixtures/x.js', 'test/fixtures/x.ts', false],
    ['test/e2e/a.test.ts', '../../control/app.js', 'control/app.ts', true],
    // Unit tests and helpers next to the code obey their folder's rules.
    ['ztunnel/proxy/outbound.test.ts', '../xds/client.js', 'ztunnel/xds/client.ts', false],
    ['ztunnel/proxy/outbound.test.ts', '../state/read.js', 'ztunnel/state/read.ts', true],
    ['lib/hbone/server.test.ts', '../../control/ca/signer.js', 'control/ca/signer.ts', false],
    ['lib/hbone/server.test.ts', '../identity/testkit.js', 'lib/identity/testkit.ts', true],
    ['ztunnel/state/model.test.ts', '../../control/model/index.js', 'control/model/index.ts', false],
    ['control/xds/informer.test.ts', '../../test/bench/mem-store.js', 'test/bench/mem-store.ts', false],
    ['cni/agent/testkit.ts', '../../cli/local/net/cni.js', 'cli/local/net/cni.ts', false],
    ['test/integration/x.test.ts', '../../cni/plugin/server.js', 'cni/plugin/server.ts', true],
    ['scripts/layers.test.ts', './layers.js', 'scripts/layers.ts', true],
    // The dashboard's browser code is built on its own: it imports only web/.
    ['web/dashboard/dashboard.ts', './chart.js', 'web/dashboard/chart.ts', true],
    ['web/dashboard/dashboard.ts', '../../control/monitoring/views.js', 'control/monitoring/views.ts', false],
    ['web/dashboard/dashboard.ts', '../../lib/admin/routes.js', 'lib/admin/routes.ts', false],
  ];
  for (const [file, spec, target, ok] of cases) {
    t.equal(checkImport(file, spec, target) === undefined, ok, `${file} → ${spec}`);
  }
});

t.test('the command line starts each component through exactly its command', async (t) => {
  const cases: Array<[string, string, string, string[] | undefined, boolean]> = [
    ['cli/program.ts', '../control/main.js', 'control/main.ts', ['controlCommand'], true],
    ['cli/program.ts', '../ztunnel/main.js', 'ztunnel/main.ts', ['ztunnelCommand'], true],
    ['cli/program.ts', '../cni/main.js', 'cni/main.ts', ['cniAgentCommand'], true],
    ['cli/program.ts', '../cni/main.js', 'cni/main.ts', ['ztunnelCommand'], false],
    ['cli/program.ts', '../control/main.js', 'control/main.ts', ['controlCommand', 'resolveConfig'], false],
    ['cli/program.ts', '../control/main.js', 'control/main.ts', ['issueNodeCredential'], false],
    ['cli/program.ts', '../control/main.js', 'control/main.ts', undefined, false],
    ['cli/main.ts', '../control/main.js', 'control/main.ts', ['controlCommand'], false],
    ['cli/local/cluster.ts', '../../control/main.js', 'control/main.ts', ['issueNodeCredential'], false],
    ['cli/local/cluster.ts', '../../cni/main.js', 'cni/main.ts', ['installPlugin'], false],
    ['cli/program.ts', '../control/app.js', 'control/app.ts', ['startControlPlane'], false],
    ['ztunnel/app.ts', '../control/main.js', 'control/main.ts', ['controlCommand'], false],
  ];
  for (const [file, spec, target, names, ok] of cases) {
    t.equal(checkImport(file, spec, target, names) === undefined, ok, `${file} → ${spec} {${names?.join(', ') ?? '*'}}`);
  }
});

t.test("a component's main.ts exports its command and re-exports nothing", async (t) => {
  const main = `import { Command } from 'commander';\nimport { startControlPlane } from './app.js';\nexport interface ControlIO { out(s: string): void }\nexport function controlCommand(): Command { return new Command('control'); }\n`;
  t.same(checkEntryModule('control/main.ts', parseImports(main), exportsOf(main)), []);
  const leaky = `${main}export { startControlPlane } from './app.js';\nexport * from './config.js';\n`;
  const v = checkEntryModule('control/main.ts', parseImports(leaky), exportsOf(leaky));
  t.same(v.map((x) => x.specifier), ['./app.js', './config.js']);
  t.match(v[0]!.rule, /re-exports nothing/);
  const noEntry = `export function run(): void {}\n`;
  t.match(checkEntryModule('cni/main.ts', parseImports(noEntry), exportsOf(noEntry)), [{ rule: /must export cniAgentCommand/ }]);
  t.same(checkEntryModule('cli/main.ts', parseImports(leaky), exportsOf(leaky)), [], 'cli/main.ts is the program, not a component entry');
  t.same(checkEntryModule('control/app.ts', parseImports(leaky), exportsOf(leaky)), [], 'other modules may re-export');
});

t.test('finds static, re-export, side-effect and dynamic imports', async (t) => {
  const src = `import a from 'x';\nimport { b,\n c } from "./y.js";\nexport * from './z.js';\nimport 'reflect-metadata';\nconst m = await import('./w.js');`;
  t.same(importsOf(src), ['x', './y.js', './z.js', 'reflect-metadata', './w.js']);
});

t.test('parses names, type-only imports and re-exports; ignores comments and strings', async (t) => {
  const src = [
    `import d, { a as b, type C } from './one.js';`,
    `import type { T } from './two.js';`,
    `import { type U, type V } from './three.js';`,
    `import * as ns from './four.js';`,
    `export { x as y } from './five.js';`,
    `export type { Z } from './six.js';`,
    `type Q = typeof import('./seven.js');`,
    `// import { no } from './comment.js';`,
    "const s = `import { no } from './template.js'`;",
  ].join('\n');
  t.same(parseImports(src), [
    { specifier: './one.js', names: ['default', 'a', 'C'], typeOnly: false, reexport: false },
    { specifier: './two.js', names: ['T'], typeOnly: true, reexport: false },
    { specifier: './three.js', names: ['U', 'V'], typeOnly: true, reexport: false },
    { specifier: './four.js', names: undefined, typeOnly: false, reexport: false },
    { specifier: './five.js', names: ['x'], typeOnly: false, reexport: true },
    { specifier: './six.js', names: ['Z'], typeOnly: true, reexport: true },
    { specifier: './seven.js', names: undefined, typeOnly: true, reexport: false },
  ]);
  t.same(exportsOf(`export const a = 1, b = 2;\nexport function f() {}\nexport class K {}\nexport interface I {}\nexport type T = 1;\nconst h = 1;\nexport { h as g };\nexport { r } from './r.js';`), ['a', 'b', 'f', 'K', 'I', 'T', 'g']);
  t.equal(resolveTarget('lib/store/file.ts', './watch.js'), 'lib/store/watch.ts');
  t.equal(resolveTarget('cli/local/cluster.ts', '../../lib/x/y.js'), 'lib/x/y.ts');
  t.equal(resolveTarget('cli/local/cluster.ts', 'node:fs'), undefined);
});

t.test('import cycles', async (t) => {
  const g = (edges: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(edges));
  const cases: Array<[string, Record<string, string[]>, string[][]]> = [
    ['none', { a: ['b'], b: ['c'], c: [] }, []],
    ['diamond, no cycle', { a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }, []],
    ['two modules', { a: ['b'], b: ['a'] }, [['a', 'b', 'a']]],
    ['self import', { a: ['a'], b: [] }, [['a', 'a']]],
    ['three modules', { a: ['b'], b: ['c'], c: ['a'], d: ['a'] }, [['a', 'b', 'c', 'a']]],
    ['two separate cycles', { a: ['b'], b: ['a'], x: ['y'], y: ['x'], m: ['a', 'x'] }, [['a', 'b', 'a'], ['x', 'y', 'x']]],
    ['shortest way back, then the module left out', { a: ['b', 'c'], b: ['c'], c: ['a'] }, [['a', 'c', 'a'], ['b', 'c', 'a', 'b']]],
    // b sits on a cycle with a only through c; both cycles are reported, so every module on one is named.
    ['one component, two cycles', { a: ['c'], c: ['a', 'b'], b: ['c'] }, [['a', 'c', 'a'], ['b', 'c', 'b']]],
    ['edges to unknown modules', { a: ['zzz'] }, []],
  ];
  for (const [name, edges, want] of cases) t.same(findCycles(g(edges)), want, name);
  t.equal(formatCycle(['lib/store/file.ts', 'lib/store/watch.ts', 'lib/store/file.ts']), 'lib/store/file.ts → lib/store/watch.ts → lib/store/file.ts');
  // A long chain closing on itself: the search must not recurse once per module.
  const long = new Map<string, string[]>();
  for (let i = 0; i < 20_000; i++) long.set(`m${String(i).padStart(5, '0')}`, [`m${String((i + 1) % 20_000).padStart(5, '0')}`]);
  const [cycle] = findCycles(long);
  t.equal(cycle?.length, 20_001, 'a cycle through 20,000 modules');
});

t.test('each check fails on a planted violation, and a clean tree passes', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'ambit-layers-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const put = (file: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  put('lib/util/strings.ts', `export const s = 1;\n`);
  put('control/app.ts', `import { s } from '../lib/util/strings.js';\nexport const app = s;\n`);
  put('control/main.ts', `import { app } from './app.js';\nexport function controlCommand(): number { return app; }\n`);
  put('ztunnel/app.ts', `import { s } from '../lib/util/strings.js';\nexport const z = s;\n`);
  put('cli/program.ts', `import { controlCommand } from '../control/main.js';\nexport const p = controlCommand;\n`);
  put('test/e2e/all.test.ts', `import { app } from '../../control/app.js';\nimport { z } from '../../ztunnel/app.js';\nexport const all = [app, z];\n`);
  t.same(scan(root), { violations: [], cycles: [] }, 'the clean tree passes');

  const planted: Array<[string, string, string, RegExp]> = [
    ['cross-component import', 'ztunnel/leak.ts', `import { app } from '../control/app.js';\nexport const l = app;\n`, /never another component \(control\/\)/],
    ['lib → component import', 'lib/util/leak.ts', `import { z } from '../../ztunnel/app.js';\nexport const l = z;\n`, /lib\/ imports only/],
    ['a unit test breaking its folder’s rule', 'lib/util/leak.test.ts', `import { app } from '../../control/app.js';\nexport const l = app;\n`, /lib\/ imports only/],
    ['the command line reaching past the entry', 'cli/local/leak.ts', `import { controlCommand } from '../../control/main.js';\nexport const l = controlCommand;\n`, /only cli\/program\.ts starts components/],
    ['a main.ts re-exporting internals', 'control/main.ts', `import { app } from './app.js';\nexport { app } from './app.js';\nexport function controlCommand(): number { return app; }\n`, /re-exports nothing/],
  ];
  for (const [name, file, text, rule] of planted) {
    const abs = path.join(root, file);
    const before = file === 'control/main.ts' ? `import { app } from './app.js';\nexport function controlCommand(): number { return app; }\n` : undefined;
    put(file, text);
    const { violations, cycles } = scan(root);
    t.match(violations, [{ file, rule }], name);
    t.equal(violations.length, 1, `${name}: only that violation`);
    t.same(cycles, [], `${name}: no cycle`);
    if (before !== undefined) writeFileSync(abs, before);
    else rmSync(abs);
  }

  put('lib/util/a.ts', `import type { B } from './b.js';\nexport type A = { b?: B };\n`);
  put('lib/util/b.ts', `import { type A } from './a.js';\nexport type B = { a?: A };\n`);
  const { violations, cycles } = scan(root);
  t.same(violations, [], 'a cycle breaks no layering rule');
  t.same(cycles, [['lib/util/a.ts', 'lib/util/b.ts', 'lib/util/a.ts']], 'a type-only cycle is found');
  rmSync(path.join(root, 'lib/util/b.ts'));
  rmSync(path.join(root, 'lib/util/a.ts'));
  t.same(scan(root), { violations: [], cycles: [] }, 'clean again once the plants are removed');
});
