import t from 'tap';
import { backoffAfterExit, backoffMessage, exitCodeOf, formatDuration, KUBELET_BACKOFF, NO_BACKOFF, shouldRestart, terminationReason } from './restart.js';

t.test('restart policy table', async (t) => {
  const table: Array<['Always' | 'OnFailure' | 'Never', number, boolean]> = [
    ['Always', 0, true],
    ['Always', 1, true],
    ['OnFailure', 0, false],
    ['OnFailure', 2, true],
    ['OnFailure', 137, true],
    ['Never', 0, false],
    ['Never', 1, false],
  ];
  for (const [policy, code, want] of table) t.equal(shouldRestart(policy, code), want, `${policy} exit ${code}`);
});

t.test('kubelet back-off: immediate, then 10s doubling to 5m, reset after a long run', async (t) => {
  let s = NO_BACKOFF;
  const delays: number[] = [];
  for (let i = 0; i < 9; i++) {
    const r = backoffAfterExit(s, 1000, KUBELET_BACKOFF);
    delays.push(r.delayMs);
    s = r.state;
  }
  t.same(delays, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  const afterLongRun = backoffAfterExit(s, 600_000, KUBELET_BACKOFF);
  t.equal(afterLongRun.delayMs, 0, 'a 10-minute run forgets the crash loop');
  t.equal(backoffAfterExit(afterLongRun.state, 1, KUBELET_BACKOFF).delayMs, 10_000);
  const scaled = { initialMs: 100, maxMs: 300, resetMs: 5000 };
  s = NO_BACKOFF;
  const sd: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = backoffAfterExit(s, 10, scaled);
    sd.push(r.delayMs);
    s = r.state;
  }
  t.same(sd, [0, 100, 200, 300, 300]);
});

t.test('exit codes, reasons and messages', async (t) => {
  t.equal(exitCodeOf(3, undefined), 3);
  t.equal(exitCodeOf(null, 9), 137);
  t.equal(exitCodeOf(null, 15), 143);
  t.equal(terminationReason(0), 'Completed');
  t.equal(terminationReason(143), 'Error');
  t.equal(formatDuration(10_000), '10s');
  t.equal(formatDuration(80_000), '1m20s');
  t.equal(formatDuration(300_000), '5m0s');
  t.equal(formatDuration(150), '150ms');
  t.equal(backoffMessage(20_000, 'app', 'web-1', 'shop', 'u1'), 'back-off 20s restarting failed container=app pod=web-1_shop(u1)');
});
