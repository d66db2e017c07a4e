// What `ambit up` prints: step lines (rewritten in place on a terminal) and the summary tables.
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { ProgressPrinter, forwardsTable, nodesTable, podsTable, readyCount, stepLine } from './up-view.js';

const pod = (ns: string, name: string, node: string | undefined, ready: boolean, ip?: string): Pod =>
  ({
    apiVersion: 'v1', kind: 'Pod', metadata: { namespace: ns, name },
    spec: { containers: [{ name: 'c' }], ...(node ? { nodeName: node } : {}) },
    status: { phase: ready ? 'Running' : 'Pending', ...(ip ? { podIP: ip } : {}), conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  }) as unknown as Pod;

t.test('step lines', async (t) => {
  t.equal(stepLine({ name: 'cluster DNS', state: 'running' }), '  … cluster DNS');
  t.equal(stepLine({ name: 'network', state: 'done', ms: 1234, detail: 'node-1 10.240.0.11' }), '  ✓ network: node-1 10.240.0.11 (1.2s)');
  t.equal(stepLine({ name: 'control plane', state: 'failed', ms: 60000, detail: 'no root cert' }), '  ✗ control plane: no root cert (60.0s)');
});

t.test('plain output: one line per finished step, nothing while a step runs', async (t) => {
  const out: string[] = [];
  const p = new ProgressPrinter((s) => out.push(s), false);
  p.update([{ name: 'a', state: 'running' }]);
  t.same(out, []);
  p.update([{ name: 'a', state: 'done', ms: 100 }, { name: 'b', state: 'running' }]);
  p.update([{ name: 'a', state: 'done', ms: 100 }, { name: 'b', state: 'running' }]);
  p.update([{ name: 'a', state: 'done', ms: 100 }, { name: 'b', state: 'done', ms: 200 }]);
  t.same(out, ['  ✓ a (0.1s)\n', '  ✓ b (0.2s)\n'], 'each step once');
});

t.test('terminal output: the running step is rewritten in place, then replaced by its result', async (t) => {
  const out: string[] = [];
  const p = new ProgressPrinter((s) => out.push(s), true);
  p.update([{ name: 'pods', state: 'running', detail: '1/3 pods ready' }]);
  p.update([{ name: 'pods', state: 'running', detail: '1/3 pods ready' }]);
  p.update([{ name: 'pods', state: 'running', detail: '2/3 pods ready' }]);
  p.update([{ name: 'pods', state: 'done', detail: '3/3 pods ready', ms: 3000 }]);
  p.finish();
  t.same(out, ['  … pods: 1/3 pods ready', '\r\x1b[K', '  … pods: 2/3 pods ready', '\r\x1b[K', '  ✓ pods: 3/3 pods ready (3.0s)\n']);
});

t.test('summary tables', async (t) => {
  const pods = [pod('bookinfo', 'reviews-v1', 'node-2', true, '10.244.2.5'), pod('bookinfo', 'details-v1', 'node-1', true, '10.244.1.5'), pod('bookinfo', 'ratings-v1', undefined, false)];
  t.equal(readyCount(pods), '2/3 pods ready');
  t.equal(podsTable(pods), [
    'NODE            NAMESPACE   POD          IP           STATUS',
    '<unscheduled>   bookinfo    ratings-v1   <none>       Pending',
    'node-1          bookinfo    details-v1   10.244.1.5   Ready',
    'node-2          bookinfo    reviews-v1   10.244.2.5   Ready',
  ].join('\n'));
  t.equal(nodesTable(['node-1', 'node-2', 'node-3'], pods), ['NODE     PODS   READY', 'node-1   1      1', 'node-2   1      1', 'node-3   0      0'].join('\n'));
  t.equal(forwardsTable({ 'ztunnel node-1 metrics': '127.0.0.1:2', productpage: '127.0.0.1:18080', control: '127.0.0.1:1' }, 'productpage'), [
    'FORWARD                  URL',
    'productpage              http://127.0.0.1:18080/',
    'control                  http://127.0.0.1:1/',
    'ztunnel node-1 metrics   http://127.0.0.1:2/',
  ].join('\n'));
});
