import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { RedirectSchema, RewriteSchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { applyRewrite, redirectLocation, replacePrefix } from './rewrite.js';
import { match } from './testkit.js';

const prefix = (p: string) => match({ path: { kind: { case: 'prefix', value: p } } });
const plain = (p: string) => match({ path: { kind: { case: 'plainPrefix', value: p } } });

t.test('prefix replacement', async (t) => {
  const rows: Array<[string, ReturnType<typeof match> | undefined, string, string]> = [
    ['/foo/bar', prefix('/foo'), '/xyz', '/xyz/bar'],
    ['/foo/bar', prefix('/foo'), '/', '/bar'],
    ['/foo', prefix('/foo'), '/xyz', '/xyz'],
    ['/foo', prefix('/foo'), '/', '/'],
    ['/foo/bar', prefix('/foo/'), '/xyz/', '/xyz/bar'],
    ['/a/b', undefined, '/v1', '/v1/a/b'],
    ['/abc/d', plain('/ab'), '/x', '/xc/d'],
  ];
  for (const [path, m, repl, want] of rows) t.equal(replacePrefix(path, m, repl), want, `${path} ${JSON.stringify(m?.path?.kind)} → ${repl}`);
});

t.test('rewrite: full path, prefix, host', async (t) => {
  t.same(applyRewrite(create(RewriteSchema, { path: { case: 'fullPath', value: '/new' } }), '/old/x', prefix('/old')), { path: '/new', host: undefined });
  t.same(applyRewrite(create(RewriteSchema, { host: 'other', path: { case: 'prefix', value: '/v2' } }), '/v1/x', prefix('/v1')), { path: '/v2/x', host: 'other' });
  t.same(applyRewrite(undefined, '/p', undefined), { path: '/p', host: undefined });
});

t.test('redirect locations', async (t) => {
  const req = { scheme: 'http', authority: 'web.default:8080', path: '/a/b', query: 'q=1' };
  const rows: Array<[Parameters<typeof create<typeof RedirectSchema>>[1], { status: number; location: string }]> = [
    [{}, { status: 302, location: 'http://web.default:8080/a/b?q=1' }],
    [{ scheme: 'https' }, { status: 302, location: 'https://web.default/a/b?q=1' }],
    [{ scheme: 'https', port: 8443, statusCode: 301 }, { status: 301, location: 'https://web.default:8443/a/b?q=1' }],
    [{ host: 'other', path: { case: 'fullPath', value: '/x' } }, { status: 302, location: 'http://other:8080/x?q=1' }],
    [{ port: 80 }, { status: 302, location: 'http://web.default/a/b?q=1' }],
    [{ path: { case: 'prefix', value: '/z' } }, { status: 302, location: 'http://web.default:8080/z/b?q=1' }],
  ];
  for (const [r, want] of rows) t.same(redirectLocation(create(RedirectSchema, r), req, prefix('/a')), want, JSON.stringify(r));
});
