/**
 * Regular expressions in routes and matches use RE2 syntax (what Envoy and Istio accept). JS has
 * no RE2, so this refuses what RE2 would refuse and JS would take (look-arounds,
 * back-references, atomic groups, possessive quantifiers) and then checks the pattern compiles
 * once RE2's named groups `(?P<n>…)` and leading flags `(?i)` are written the JS way.
 */

/** What is wrong with `pattern`, or undefined when RE2 and JS both accept it. */
export function regexProblem(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return `back-references such as \\${n} are not supported (RE2 syntax); match the text explicitly`;
      if (!inClass && n === 'k') return 'named back-references (\\k<name>) are not supported (RE2 syntax)';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal.
      if (pattern[i + 1] === '^') i++;
      if (pattern[i + 1] === ']') i++;
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!')) return 'look-ahead groups (?= …) and (?! …) are not supported (RE2 syntax)';
      if (rest === '<=' || rest === '<!') return 'look-behind groups (?<= …) and (?<! …) are not supported (RE2 syntax)';
      if (rest.startsWith('>')) return 'atomic groups (?> …) are not supported (RE2 syntax)';
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && pattern[i + 1] === '+') return 'possessive quantifiers (such as a++) are not supported (RE2 syntax)';
  }
  let js = pattern.replace(/\(\?P</g, '(?<');
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(js);
  if (lead?.[1]) {
    if (lead[1].includes('U')) return 'the U (ungreedy) flag is not supported; use lazy quantifiers such as *? instead';
    flags = [...new Set(lead[1])].join('');
    js = js.slice(lead[0].length);
  }
  try {
    new RegExp(js, flags);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  return undefined;
}
