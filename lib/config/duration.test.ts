import t from 'tap';
import { formatDuration, parseDuration } from './duration.js';
import { ConfigError } from './errors.js';

t.test('Go-style durations in milliseconds', async (t) => {
  const table: Array<[string, number]> = [
    ['0', 0], ['0s', 0], ['500ms', 500], ['1.5s', 1500], ['1.1s', 1100], ['10m', 600_000], ['24h', 86_400_000], ['90d', 7_776_000_000],
    ['1h30m', 5_400_000], ['1m30s500ms', 90_500], ['250us', 0.25], ['250µs', 0.25], ['1500ns', 0.0015], ['.5s', 500], [' 5s ', 5000],
  ];
  for (const [text, ms] of table) t.equal(parseDuration(text, '--x'), ms, JSON.stringify(text));
});

t.test('bad durations name the source and say what to write', async (t) => {
  const table: Array<[string, RegExp]> = [
    ['5', /^--drain: "5" is not a duration; add a unit, e.g\. 5s$/],
    ['1.5', /^--drain: "1.5" is not a duration; add a unit, e.g\. 1.5s$/],
    ['-1s', /^--drain: "-1s" is not a duration: it is negative; write 0 or more, e.g\. 1s$/],
    ['-5', /^--drain: "-5" is not a duration/],
    ['', /^--drain: "" is not a duration; write e\.g\. 500ms/],
    ['soon', /is not a duration; write e\.g\./],
    ['1y', /is not a duration/],
    ['1 week', /is not a duration/],
    ['5 s', /is not a duration/],
    ['1h 30m', /is not a duration/],
    ['1e3s', /is not a duration/],
    ['s', /is not a duration/],
    ['5S', /is not a duration/],
  ];
  for (const [text, message] of table) t.throws(() => parseDuration(text, '--drain'), { name: 'ConfigError', message }, JSON.stringify(text));
  t.throws(() => parseDuration('5', 'environment CONNECTION_TERMINATION_DEADLINE'), { message: /^environment CONNECTION_TERMINATION_DEADLINE: "5"/ });
  t.ok((() => { try { parseDuration('x', 'y'); } catch (e) { return e instanceof ConfigError; } return false; })());
});

t.test('formatDuration is the shortest form that reads back', async (t) => {
  const table: Array<[number, string]> = [[0, '0s'], [500, '500ms'], [1500, '1s500ms'], [5_400_000, '1h30m'], [86_400_000, '1d'], [0.25, '250us'], [0.0015, '1us500ns']];
  for (const [ms, text] of table) {
    t.equal(formatDuration(ms), text, String(ms));
    t.equal(parseDuration(text, 'x'), ms, `${text} reads back`);
  }
  t.throws(() => formatDuration(-1), RangeError);
  t.throws(() => formatDuration(NaN), RangeError);
});
