import t from 'tap';
import { ExpositionError, parseExposition } from './exposition.js';

t.test('parseExposition: samples, labels, escapes and special values', async (t) => {
  const cases: Array<{ name: string; text: string; want: Array<{ name: string; labels: Record<string, string>; value: number }> }> = [
    { name: 'comments and blank lines', text: '# HELP a x\n# TYPE a counter\n\na 1\n', want: [{ name: 'a', labels: {}, value: 1 }] },
    { name: 'labels', text: 'b{x="1",y="two"} 2.5', want: [{ name: 'b', labels: { x: '1', y: 'two' }, value: 2.5 }] },
    { name: 'trailing comma and timestamp', text: 'c{x="1",} 3 1700000000000', want: [{ name: 'c', labels: { x: '1' }, value: 3 }] },
    { name: 'escapes', text: 'd{p="a\\"b\\\\c\\nd"} 4', want: [{ name: 'd', labels: { p: 'a"b\\c\nd' }, value: 4 }] },
    { name: 'braces and commas inside values', text: 'e{le="+Inf",q="{a,b}"} 5', want: [{ name: 'e', labels: { le: '+Inf', q: '{a,b}' }, value: 5 }] },
    { name: 'infinities', text: 'f +Inf\ng -Inf', want: [{ name: 'f', labels: {}, value: Infinity }, { name: 'g', labels: {}, value: -Infinity }] },
    { name: 'exponent', text: 'h 1.5e3', want: [{ name: 'h', labels: {}, value: 1500 }] },
    { name: 'colons in names', text: 'job:rate5m 7', want: [{ name: 'job:rate5m', labels: {}, value: 7 }] },
  ];
  for (const c of cases) t.same(parseExposition(c.text), c.want, c.name);
  t.ok(Number.isNaN(parseExposition('n NaN')[0]?.value), 'NaN');
});

t.test('parseExposition: bad input names the line and the problem', async (t) => {
  const cases: Array<{ text: string; match: RegExp }> = [
    { text: 'ok 1\n9bad 1', match: /line 2: expected a metric name/ },
    { text: 'a{x=1} 1', match: /line 1: label x: expected ="value"/ },
    { text: 'a{x="1} 1', match: /line 1: label x: unterminated value/ },
    { text: 'a{1x="1"} 1', match: /line 1: expected a label name/ },
    { text: 'a one', match: /line 1: value "one" is not a number/ },
    { text: 'a', match: /line 1: a: expected a value/ },
    { text: 'a 1 2 3', match: /line 1: a: expected a value and an optional timestamp/ },
  ];
  for (const c of cases) t.throws(() => parseExposition(c.text), { name: 'Error', message: c.match }, c.text);
  t.throws(() => parseExposition('a 1\nb c'), { message: /line 2:/ }, 'the error carries the line');
  let caught: unknown;
  try {
    parseExposition('a 1\nb c');
  } catch (e) {
    caught = e;
  }
  t.ok(caught instanceof ExpositionError && caught.line === 2, 'an ExpositionError with its line');
});
