/**
 * Regular expressions in routes and matches use RE2 syntax (what Envoy and Istio accept). JS has
 * no RE2, so this refuses what RE2 would refuse and JS would take (look-arounds,
 * back-references, atomic groups, possessive quantifiers), writes RE2's named groups `(?P<n>…)`
 * and leading flags `(?i)` the JS way, and compiles the result as a whole-value match. The
 * control plane judges a pattern with `regexProblem` and the waypoint matches with `compileRe2`:
 * one function for both, so a pattern accepted in a manifest is one the waypoint can match with.
 */

/** `*`, `+` or `{n,}` / `{n,m}` with m > 1 at `i`: a quantifier that repeats more than once. */
function repeatsAt(pattern: string, i: number): boolean {
  const c = pattern[i];
  if (c === '*' || c === '+') return true;
  if (c !== '{') return false;
  const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
  return m !== null && (m[2] !== undefined ? m[3] === '' || Number(m[3]) > 1 : Number(m[1]) > 1);
}

const NESTED = 'a repeated group that itself repeats, such as (a+)+ or (\\w*)*, is not supported: JavaScript backtracks on it for exponential time where RE2 is linear; repeat the inner part only, e.g. a+';

function re2Refusal(pattern: string): string | undefined {
  let inClass = false;
  // Per open group: does it contain a repeating quantifier?
  const groups: boolean[] = [];
  let lastClosedRepeats = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return `back-references such as \\${n} are not supported (RE2 syntax); match the text explicitly`;
      if (!inClass && n === 'k') return 'named back-references (\\k<name>) are not supported (RE2 syntax)';
      // `\p{L}`: the braces belong to the escape, so `\p{L}+` is no possessive quantifier.
      const close = (n === 'p' || n === 'P') && pattern[i + 2] === '{' ? pattern.indexOf('}', i + 3) : -1;
      i = close > 0 ? close : i + 1;
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
    if (repeatsAt(pattern, i)) {
      // A repeated group (just closed) whose body repeats too: exponential backtracking.
      if (pattern[i - 1] === ')' && lastClosedRepeats) return NESTED;
      if (groups.length > 0) groups[groups.length - 1] = true;
    }
    if (c === '(') groups.push(false);
    if (c === ')') {
      lastClosedRepeats = groups.pop() ?? false;
      if (lastClosedRepeats && groups.length > 0) groups[groups.length - 1] = true;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!')) return 'look-ahead groups (?= …) and (?! …) are not supported (RE2 syntax)';
      if (rest === '<=' || rest === '<!') return 'look-behind groups (?<= …) and (?<! …) are not supported (RE2 syntax)';
      if (rest.startsWith('>')) return 'atomic groups (?> …) are not supported (RE2 syntax)';
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && pattern[i + 1] === '+') return 'possessive quantifiers (such as a++) are not supported (RE2 syntax)';
  }
  return undefined;
}

/**
 * Compiles under the `u` flag (RE2 matches code points and knows `\p{…}`); a pattern JS refuses
 * only there — RE2 lets any punctuation be escaped, `\-` or `\_`, which `u` forbids — is compiled
 * without it unless it uses `\p`, whose meaning would change.
 */
function compile(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, `${flags}u`);
  } catch (err) {
    if (/\\[pP]/.test(source)) throw err;
    return new RegExp(source, flags);
  }
}

/** The pattern as a RegExp that must match the whole value, or what is wrong with it. */
export function compileRe2(pattern: string): RegExp | string {
  const refusal = re2Refusal(pattern);
  if (refusal) return refusal;
  let js = pattern.replace(/\(\?P</g, '(?<');
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(js);
  if (lead?.[1]) {
    if (lead[1].includes('U')) return 'the U (ungreedy) flag is not supported; use lazy quantifiers such as *? instead';
    flags = [...new Set(lead[1])].join('');
    js = js.slice(lead[0].length);
  }
  try {
    // Alone first: wrapped, `a)|(?:b` would be a valid pattern that is not the one written.
    compile(js, flags);
    return compile(`^(?:${js})$`, flags);
  } catch (err) {
    return `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
}

/** What is wrong with `pattern`, or undefined when RE2 and the waypoint both accept it. */
export function regexProblem(pattern: string): string | undefined {
  const r = compileRe2(pattern);
  return typeof r === 'string' ? r : undefined;
}
