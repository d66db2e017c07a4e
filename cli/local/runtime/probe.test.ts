import t from 'tap';
import { initialResult, newCounter, probeActive, probeFailedMessage, probeTiming, recordOutcome, resolvePort, type ProbeCounter, type ProbeKind } from './probe.js';

t.test('defaults and time scale', async (t) => {
  t.same(probeTiming({ tcpSocket: { port: 1 } }, 1000), { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 });
  t.same(probeTiming({ tcpSocket: { port: 1 }, initialDelaySeconds: 2, periodSeconds: 3, timeoutSeconds: 4, successThreshold: 2, failureThreshold: 5 }, 10), {
    initialDelayMs: 20,
    periodMs: 30,
    timeoutMs: 40,
    successThreshold: 2,
    failureThreshold: 5,
  });
  t.equal(initialResult('liveness'), 'success');
  t.equal(initialResult('readiness'), 'failure');
  t.equal(initialResult('startup'), 'unknown');
});

function play(kind: ProbeKind, outcomes: string, successThreshold: number, failureThreshold: number): string {
  let c: ProbeCounter = newCounter(kind);
  let verdicts = '';
  for (const ch of outcomes) {
    c = recordOutcome(kind, c, ch === 'S' ? 'success' : 'failure', { successThreshold, failureThreshold });
    verdicts += c.result === 'success' ? 'S' : c.result === 'failure' ? 'F' : '?';
  }
  return verdicts;
}

t.test('threshold table (verdict after each outcome)', async (t) => {
  const table: Array<[ProbeKind, string, number, number, string]> = [
    ['readiness', 'SSS', 1, 3, 'SSS'],
    ['readiness', 'FFFF', 1, 3, 'FFFF'],
    ['readiness', 'SFFSFFF', 1, 3, 'SSSSSSF'],
    ['readiness', 'SSFSS', 2, 1, 'FSFFS'],
    ['readiness', 'SFS', 3, 1, 'FFF'],
    ['readiness', 'SFFFS', 1, 3, 'SSSFS'],
    ['liveness', 'FFSFFF', 1, 3, 'SSSSSF'],
    ['liveness', 'FFFSSS', 1, 3, 'SSFFFF'],
    ['liveness', 'F', 1, 1, 'F'],
    ['startup', 'FFS', 1, 3, '??S'],
    ['startup', 'FFF', 1, 3, '??F'],
    ['startup', 'FFFS', 1, 3, '??FF'],
  ];
  for (const [kind, outcomes, st, ft, want] of table) t.equal(play(kind, outcomes, st, ft), want, `${kind} ${outcomes} s=${st} f=${ft}`);
});

t.test('liveness and startup hold after a failure verdict', async (t) => {
  let c = newCounter('liveness');
  for (let i = 0; i < 3; i++) c = recordOutcome('liveness', c, 'failure', { successThreshold: 1, failureThreshold: 3 });
  t.equal(c.onHold, true);
  t.equal(recordOutcome('liveness', c, 'success', { successThreshold: 1, failureThreshold: 3 }), c);
});

t.test('which probes run', async (t) => {
  t.equal(probeActive('startup', false), true);
  t.equal(probeActive('startup', true), false);
  t.equal(probeActive('liveness', false), false);
  t.equal(probeActive('readiness', true), true);
  t.equal(probeFailedMessage('readiness', 'HTTP probe failed with statuscode: 500'), 'Readiness probe failed: HTTP probe failed with statuscode: 500');
});

t.test('named ports', async (t) => {
  const ports = [{ name: 'http', containerPort: 8080 }, { containerPort: 9090 }];
  t.same(resolvePort(80, ports), { port: 80 });
  t.same(resolvePort('http', ports), { port: 8080 });
  t.same(resolvePort('8081', ports), { port: 8081 });
  t.match(resolvePort('grpc', ports), { error: /named port "grpc"/ });
  t.match(resolvePort('http', undefined), { error: /named port/ });
});
