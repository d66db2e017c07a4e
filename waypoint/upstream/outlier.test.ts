import t from 'tap';
import { OutlierDetector, type Outcome } from './outlier.js';
import { outlierDetection, TestClock, type OutlierInit } from './testkit.js';

const sec = (s: number) => ({ seconds: BigInt(s), nanos: 0 });

function detector(o: OutlierInit, n = 10) {
  const clock = new TestClock();
  const d = new OutlierDetector(
    outlierDetection({ consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, interval: sec(10), baseEjectionTime: sec(30), maxEjectionPercent: 100, ...o }),
    clock,
  );
  d.setEndpoints(Array.from({ length: n }, (_, i) => `ep-${i}`));
  return { d, clock };
}

const times = (d: OutlierDetector, id: string, outcome: Outcome, n: number) => {
  for (let i = 0; i < n; i++) d.report(id, outcome);
};

t.test('which outcomes eject, by trigger', async (t) => {
  const rows: Array<[string, OutlierInit, Outcome[], boolean]> = [
    ['5 × 5xx reach consecutive5xxErrors 5', {}, ['5xx', '5xx', '5xx', '5xx', '5xx'], true],
    ['4 × 5xx do not', {}, ['5xx', '5xx', '5xx', '5xx'], false],
    ['a success in between resets the count', {}, ['5xx', '5xx', '5xx', '5xx', 'success', '5xx'], false],
    ['gateway errors count as 5xx', {}, ['gateway-error', 'gateway-error', 'connect-failure', 'gateway-error', 'connect-failure'], true],
    ['consecutive5xxErrors 0 disables the 5xx trigger', { consecutive5xxErrors: 0 }, Array<Outcome>(20).fill('5xx'), false],
    ['3 gateway errors reach consecutiveGatewayErrors 3', { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 }, ['gateway-error', 'connect-failure', 'gateway-error'], true],
    ['a plain 5xx resets the gateway count', { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 }, ['gateway-error', 'gateway-error', '5xx', 'gateway-error'], false],
    ['plain 5xx never reach the gateway trigger', { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2 }, ['5xx', '5xx', '5xx'], false],
    ['the gateway trigger fires before the 5xx one', { consecutive5xxErrors: 10, consecutiveGatewayErrors: 2 }, ['connect-failure', 'connect-failure'], true],
    ['successes alone never eject', {}, Array<Outcome>(50).fill('success'), false],
  ];
  for (const [name, o, outcomes, ejected] of rows) {
    const { d } = detector(o);
    for (const x of outcomes) d.report('ep-0', x);
    t.equal(d.isEjected('ep-0'), ejected, name);
    t.equal(d.isEjected('ep-1'), false, `${name}: other endpoints untouched`);
  }
});

t.test('ejection lasts base × times ejected, capped, and the multiplier decays when healthy', async (t) => {
  const { d, clock } = detector({});
  times(d, 'ep-0', '5xx', 5);
  t.ok(d.isEjected('ep-0'), 'ejected');
  clock.advance(29_999);
  t.ok(d.isEjected('ep-0'), 'still out just before 30s');
  clock.advance(1);
  t.notOk(d.isEjected('ep-0'), 'back at exactly 30s');
  t.equal(d.ejectedCount(), 0);

  times(d, 'ep-0', '5xx', 5);
  clock.advance(59_999);
  t.ok(d.isEjected('ep-0'), 'second ejection lasts 60s');
  clock.advance(1);
  t.notOk(d.isEjected('ep-0'), 'back after 60s');

  // Healthy for two full intervals: the multiplier drops from 2 to 0.
  clock.advance(20_000);
  times(d, 'ep-0', '5xx', 5);
  clock.advance(29_999);
  t.ok(d.isEjected('ep-0'), 'after recovering, the next ejection is the base time again…');
  clock.advance(1);
  t.notOk(d.isEjected('ep-0'), '…30s');

  const { d: d2, clock: c2 } = detector({ baseEjectionTime: sec(200) });
  times(d2, 'ep-1', '5xx', 5);
  c2.advance(200_000);
  times(d2, 'ep-1', '5xx', 5);
  c2.advance(299_999);
  t.ok(d2.isEjected('ep-1'), 'a second ejection (400s uncapped) lasts the 300s cap');
  c2.advance(1);
  t.notOk(d2.isEjected('ep-1'), 'and no longer');
});

t.test('errors need a fresh run after an ejection', async (t) => {
  const { d, clock } = detector({});
  times(d, 'ep-0', '5xx', 5);
  clock.advance(30_000);
  d.report('ep-0', '5xx');
  t.notOk(d.isEjected('ep-0'), 'one more 5xx after coming back does not re-eject');
  times(d, 'ep-0', '5xx', 4);
  t.ok(d.isEjected('ep-0'), 'five more do');
});

t.test('maxEjectionPercent', async (t) => {
  const rows: Array<[string, number, number, number]> = [
    // [name, endpoints, maxEjectionPercent, most that can be out]
    ['10% of 10', 10, 10, 1],
    ['10% of 20', 20, 10, 2],
    ['10% of 15: a second would be 13%', 15, 10, 1],
    ['10% of 3: at least one may go', 3, 10, 1],
    ['50% of 4', 4, 50, 2],
    ['100% of 4: all', 4, 100, 4],
    ['0%: none', 4, 0, 0],
  ];
  for (const [name, n, pct, most] of rows) {
    const { d } = detector({ maxEjectionPercent: pct }, n);
    for (let i = 0; i < n; i++) times(d, `ep-${i}`, '5xx', 5);
    t.equal(d.ejectedCount(), most, name);
    t.equal(d.ejectionsOverflow, n - most, `${name}: refused ejections counted`);
  }
  const { d, clock } = detector({ maxEjectionPercent: 10 }, 10);
  times(d, 'ep-0', '5xx', 5);
  times(d, 'ep-1', '5xx', 5);
  t.notOk(d.isEjected('ep-1'), 'the second is refused while the first is out');
  clock.advance(30_000);
  times(d, 'ep-1', '5xx', 1);
  t.ok(d.isEjected('ep-1'), 'once the first is back, the next error ejects the second (its run kept counting)');
});

t.test('setEndpoints: percentages over the current set, removed endpoints forgotten', async (t) => {
  const { d } = detector({ maxEjectionPercent: 50 }, 2);
  times(d, 'ep-0', '5xx', 5);
  t.equal(d.ejectedCount(), 1);
  d.setEndpoints(['ep-1', 'ep-2', 'ep-3', 'ep-4']);
  t.equal(d.ejectedCount(), 0, 'ep-0 left and took its ejection along');
  d.report('unknown', '5xx');
  t.notOk(d.isEjected('unknown'), 'unknown endpoints are ignored');
  times(d, 'ep-2', 'connect-failure', 5);
  times(d, 'ep-3', 'connect-failure', 5);
  times(d, 'ep-4', 'connect-failure', 5);
  t.equal(d.ejectedCount(), 2, '50% of four');
  d.setEndpoints(['ep-0', 'ep-1', 'ep-2', 'ep-3', 'ep-4']);
  t.notOk(d.isEjected('ep-0'), 'a returning endpoint starts clean');
  t.same(
    d.snapshot().filter((s) => s.ejected).map((s) => s.id),
    ['ep-2', 'ep-3'],
    'snapshot lists the ejected',
  );
});

t.test('minHealthPercent: below it, health is ignored', async (t) => {
  const { d } = detector({ minHealthPercent: 50 }, 4);
  times(d, 'ep-0', '5xx', 5);
  t.ok(d.isEjected('ep-0'), '3 of 4 healthy (75%) ≥ 50%: ejection honoured');
  times(d, 'ep-1', '5xx', 5);
  t.ok(d.isEjected('ep-1'), '2 of 4 (50%) is not below 50%');
  times(d, 'ep-2', '5xx', 5);
  t.equal(d.ejectedCount(), 3, 'three are ejected…');
  t.notOk(d.isEjected('ep-0'), '…but with 25% healthy the balancer may use all (panic)');
});

t.test('defaults for a resource without durations', async (t) => {
  const clock = new TestClock();
  const d = new OutlierDetector(outlierDetection({ consecutive5xxErrors: 1, maxEjectionPercent: 100 }), clock);
  d.setEndpoints(['a']);
  d.report('a', '5xx');
  clock.advance(29_999);
  t.ok(d.isEjected('a'), 'base ejection 30s by default');
  clock.advance(1);
  t.notOk(d.isEjected('a'));
  t.equal(d.ejectionsTotal, 1);
});
