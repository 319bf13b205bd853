// "Did you mean …?" hints for configuration and segment definitions, from the Levenshtein distance.

/** Levenshtein distance: the fewest single-character insertions, deletions and substitutions from `a` to `b`. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * ` (did you mean "x"?)` naming the closest candidate (a case-only difference counts as distance 0), or `''` when none is
 * close enough to be a likely typo: at most 2 edits, or a third of the word's length for longer words.
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    // The distance is at least the length difference: skipping candidates that cannot be within the limit leaves the
    // answer unchanged and keeps the quadratic work bounded by the candidates' lengths, whatever length `word` has.
    if (Math.abs(c.length - word.length) > limit) continue;
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best !== undefined && bestDistance <= limit ? ` (did you mean "${best}"?)` : '';
}
