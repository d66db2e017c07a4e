import t from 'tap';
import { checkImport, importsOf } from './layers.js';

t.test('import rules of DESIGN.md §5', async (t) => {
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
    ['cli/main.ts', '../control/main.js', 'control/main.ts', true],
    ['cli/main.ts', '../control/app.js', 'control/app.ts', false],
    ['cli/local/runner.ts', '../../test/fixtures/x.js', 'test/fixtures/x.ts', false],
    ['ztunnel/proxy/outbound.test.ts', '../xds/client.js', 'ztunnel/xds/client.ts', true],
    ['test/e2e/a.test.ts', '../../control/app.js', 'control/app.ts', true],
  ];
  for (const [file, spec, target, ok] of cases) {
    t.equal(checkImport(file, spec, target) === undefined, ok, `${file} → ${spec}`);
  }
});

t.test('finds static, re-export, side-effect and dynamic imports', async (t) => {
  const src = `import a from 'x';\nimport { b,\n c } from "./y.js";\nexport * from './z.js';\nimport 'reflect-metadata';\nconst m = await import('./w.js');`;
  t.same(importsOf(src), ['x', './y.js', './z.js', 'reflect-metadata', './w.js']);
});
