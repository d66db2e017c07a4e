import t from 'tap';
import { regexProblem } from './regex.js';

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
  ];
  for (const [pattern, want] of cases) {
    const got = regexProblem(pattern);
    if (want) t.match(got, want, pattern);
    else t.equal(got, undefined, pattern);
  }
});
