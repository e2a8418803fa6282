// IAM wildcard coverage: does a ceiling pattern (`*`, `?`) cover a requested action or ARN, where
// the request may itself hold wildcards? Errs on the side of "not covered", never the other way.
//
// Resource ARNs follow IAM's segment rule: a `*` stays inside its colon-separated segment unless it
// is the segment's last character, in which case it may run past colons; `?` is one character of a
// segment. Actions are matched case-insensitively, resources case-sensitively (as IAM does).

type Token = { kind: 'char'; ch: string } | { kind: 'one' } | { kind: 'many'; crossesColons: boolean };

export type WildcardMode = 'action' | 'resource';

function tokenize(pattern: string, mode: WildcardMode): Token[] {
  const chars = [...(mode === 'action' ? pattern.toLowerCase() : pattern)];
  return chars.map((ch, i): Token => {
    if (ch === '?') return { kind: 'one' };
    if (ch === '*') {
      const next = chars[i + 1];
      return { kind: 'many', crossesColons: mode === 'action' || next === undefined || next === ':' };
    }
    return { kind: 'char', ch };
  });
}

/** True when a single ceiling token may stand for (absorb) one request token. */
function manyAbsorbs(ceiling: Extract<Token, { kind: 'many' }>, request: Token): boolean {
  if (ceiling.crossesColons) return true;
  if (request.kind === 'char') return request.ch !== ':';
  if (request.kind === 'one') return true;
  return !request.crossesColons;
}

function oneMatches(request: Token, mode: WildcardMode): boolean {
  if (request.kind === 'one') return true;
  return request.kind === 'char' && (mode === 'action' || request.ch !== ':');
}

/**
 * Whether every string the `requested` pattern denotes is denoted by `ceiling`. Request wildcards
 * are symbols: a requested `*` is covered only by a ceiling `*` that may absorb it, a requested
 * `?` only by a ceiling `?` or `*`. This is sound (never says yes wrongly); it may say no to
 * exotic pattern pairs that happen to be equivalent, which denies rather than widens.
 */
export function covers(ceiling: string, requested: string, mode: WildcardMode): boolean {
  if (!ceiling.includes('*') && !ceiling.includes('?')) {
    if (requested.includes('*') || requested.includes('?')) return false;
    return mode === 'action' ? ceiling.toLowerCase() === requested.toLowerCase() : ceiling === requested;
  }
  const c = tokenize(ceiling, mode);
  const r = tokenize(requested, mode);
  // Cheap rejection on the literal prefix before the first ceiling wildcard.
  let i = 0;
  while (i < c.length && c[i]!.kind === 'char') {
    const rt = r[i];
    if (rt === undefined || rt.kind !== 'char' || rt.ch !== (c[i] as { ch: string }).ch) return false;
    i++;
  }
  // Dynamic programming over suffixes, one row per ceiling token (O(|c|·|r|) time, O(|r|) space).
  // row[j] = ceiling tokens from index ci cover request tokens from index j.
  let row: boolean[] = new Array(r.length + 1).fill(false);
  row[r.length] = true;
  for (let ci = c.length - 1; ci >= 0; ci--) {
    const token = c[ci]!;
    const next: boolean[] = new Array(r.length + 1).fill(false);
    if (token.kind === 'many') {
      next[r.length] = row[r.length]!;
      for (let j = r.length - 1; j >= 0; j--)
        next[j] = row[j]! || (manyAbsorbs(token, r[j]!) && next[j + 1]!);
    } else {
      for (let j = r.length - 1; j >= 0; j--) {
        const rt = r[j]!;
        const fits = token.kind === 'one' ? oneMatches(rt, mode) : rt.kind === 'char' && rt.ch === token.ch;
        next[j] = fits && row[j + 1]!;
      }
    }
    row = next;
  }
  return row[0]!;
}

/** The first requested item that no ceiling pattern covers, or undefined when all fit. */
export function firstUncovered(ceiling: readonly string[], requested: readonly string[], mode: WildcardMode) {
  return requested.find((item) => !ceiling.some((pattern) => covers(pattern, item, mode)));
}
