/** "Did you mean" for mistyped commands and flags, as git does (help.c: Damerau-Levenshtein with a threshold). */

/** Pure: optimal string alignment distance (a transposition counts as one edit: `stauts` -> `status` is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** Pure: the closest candidate when it is close enough to be a typo (or the input is a prefix of exactly one). */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const prefixed = candidates.filter((c) => input.length >= 2 && c.startsWith(input));
  if (prefixed.length === 1) return prefixed[0];
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(input, c);
    if (!best || d < best.d) best = { c, d };
  }
  const limit = Math.max(1, Math.min(3, Math.floor(input.length / 3)));
  return best && best.d <= limit ? best.c : undefined;
}
