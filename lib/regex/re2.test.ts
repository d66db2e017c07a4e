import t from 'tap';
import { compileRe2, regexProblem } from './re2.js';

t.test('RE2-compatible regular expressions', async (t) => {
  const cases: Array<[string, RegExp | undefined]> = [
    ['/api/v[0-9]+/.*', undefined],
    ['^/users/(?P<id>[0-9]+)$', undefined],
    ['(?i)/Admin.*', undefined],
    ['[\\]1]x', undefined],
    ['a\\\\1', undefined],
    ['foo(?=bar)', /look-ahead/],
    ['foo(?!bar)', /look-ahead/],
    ['(?<=a)b', /look-behind/],
    ['(?<!a)b', /look-behind/],
    ['(a)\\1', /back-references/],
    ['(?<n>a)\\k<n>', /named back-references/],
    ['(?>a+)b', /atomic/],
    ['a++', /possessive/],
    ['(?U)a*', /ungreedy/],
    ['[unclosed', /not a valid regular expression/],
    ['a{2,1}', /not a valid regular expression/],
    // Exponential backtracking in JavaScript (RE2 is linear): a 40-character path froze the waypoint.
    ['(a+)+', /repeated group that itself repeats/],
    ['/api/([a-z0-9]*)*/x', /repeated group that itself repeats/],
    ['((\\w+))*?', /repeated group that itself repeats/],
    ['(a+){2,}', /repeated group that itself repeats/],
    ['(a+)?b', undefined],
    ['(a|b)*c', undefined],
    ['(/[a-z]+)+', /repeated group that itself repeats/],
    ['[(]a+[)]+', undefined],
    ['\\(a+\\)+', undefined],
    ['\\p{L}+(x)*', undefined],
  ];
  for (const [pattern, want] of cases) {
    const got = regexProblem(pattern);
    if (want) t.match(got, want, pattern);
    else t.equal(got, undefined, pattern);
  }
});

t.test('compiled as the waypoint matches: whole value, RE2 spellings translated', async (t) => {
  // Found by the fuzz tier: the control plane accepted these and the waypoint compiled them
  // verbatim under the u flag, so they matched nothing.
  const cases: Array<[string, string, boolean]> = [
    ['(?i)/Admin.*', '/admin/x', true],
    ['^/users/(?P<id>[0-9]+)$', '/users/42', true],
    ['a\\-b', 'a-b', true],
    ['\\p{L}+', 'héllo', true],
    ['/v[0-9]+', '/v2/x', false],
    ['a|b', 'ab', false],
  ];
  for (const [pattern, value, want] of cases) {
    const re = compileRe2(pattern);
    t.type(re, RegExp, pattern);
    t.equal((re as RegExp).test(value), want, `${pattern} on ${value}`);
  }
  t.match(compileRe2('a)|(?:b'), /not a valid regular expression/, 'no escape from the whole-value wrapper');
});
