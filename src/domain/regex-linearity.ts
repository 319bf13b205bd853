// A conservative check that a regular expression runs in linear time on a backtracking engine such as V8's.
//
// It answers "proven linear" only for patterns built from character sets, groups, alternation, quantifiers, the
// assertions ^ $ \b \B and lookarounds without repetition inside (constant work each time they are tried); anything
// else (backreferences, \p, the v flag) is "not proven". The argument, on the Glushkov positions of the pattern
// (each character set is one position):
//   - a repeated part may not match the empty string, and no step from one position to the next may be produced by
//     two different loops (that is what makes `(a+)+` exponential): each input then has one parse per path;
//   - from a position inside a loop, the positions that may come next have disjoint character sets, so the next
//     character alone decides between "again" and "go on" (`[^@]+\.[^@]+$` fails this: `.` is in `[^@]`); choices
//     outside loops are taken at most once per attempt, which costs a constant factor;
//   - an unanchored pattern is retried at every offset: its first characters must not be ones a loop consumes,
//     unless that loop ends the pattern (then an attempt that reaches it succeeds).

export type Linearity = { linear: true } | { linear: false; reason: string };

type Ranges = [number, number][];

type Node =
  | { t: 'set'; set: Ranges }
  | { t: 'assert'; kind: 'start' | 'end' | 'boundary' | 'look' }
  | { t: 'seq'; items: Node[] }
  | { t: 'alt'; options: Node[] }
  | { t: 'rep'; body: Node; min: number; max: number };

class Unsupported extends Error {}
class NotLinear extends Error {}

// ---- character sets as sorted, merged, inclusive code ranges ----

function normalize(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: Ranges, max: number): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalize(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= max) out.push([next, max]);
  return out;
}

function intersects(a: Ranges, b: Ranges): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if (alo <= bhi && blo <= ahi) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
}

const ch = (c: string): [number, number] => [c.charCodeAt(0), c.charCodeAt(0)];
const DIGIT: Ranges = [[48, 57]];
const WORD: Ranges = normalize([[48, 57], [65, 90], [95, 95], [97, 122]]);
const SPACE: Ranges = normalize([
  [9, 13], [32, 32], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff],
]);
const LINE_TERMINATORS: Ranges = [[10, 10], [13, 13], [0x2028, 0x2029]];

// ---- parser for the supported subset of ECMAScript pattern syntax ----

class Parser {
  i = 0;
  readonly max: number;
  constructor(
    readonly src: string,
    readonly flags: string,
  ) {
    this.max = flags.includes('u') ? 0x10ffff : 0xffff;
  }

  parse(): Node {
    const node = this.disjunction();
    if (this.i < this.src.length) throw new Unsupported(`unexpected "${this.src[this.i]}" at ${this.i}`);
    return node;
  }

  disjunction(): Node {
    const options = [this.alternative()];
    while (this.src[this.i] === '|') {
      this.i++;
      options.push(this.alternative());
    }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }

  alternative(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') items.push(this.term());
    return items.length === 1 ? items[0]! : { t: 'seq', items };
  }

  term(): Node {
    const c = this.src[this.i]!;
    if (c === '^' || c === '$') {
      this.i++;
      return { t: 'assert', kind: c === '^' ? 'start' : 'end' };
    }
    if (c === '\\' && (this.src[this.i + 1] === 'b' || this.src[this.i + 1] === 'B')) {
      this.i += 2;
      return { t: 'assert', kind: 'boundary' };
    }
    const atom = this.atom();
    return this.quantified(atom);
  }

  quantified(atom: Node): Node {
    const c = this.src[this.i];
    let min: number;
    let max: number;
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
    } else if (c === '{') {
      const m = /^\{(\d{1,9})(,(\d{0,9}))?\}/.exec(this.src.slice(this.i, this.i + 22));
      if (!m) throw new Unsupported(`a literal "{" at ${this.i}`);
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    } else return atom;
    if (this.src[this.i] === '?') this.i++; // lazy: the same choices, tried in the other order
    if (atom.t === 'assert') throw new Unsupported('a quantified assertion');
    return { t: 'rep', body: atom, min, max };
  }

  atom(): Node {
    const c = this.src[this.i]!;
    if (c === '(') {
      this.i++;
      let look = false;
      if (this.src[this.i] === '?') {
        const next = this.src.slice(this.i + 1, this.i + 3);
        if (next[0] === ':') this.i += 2;
        else if (next[0] === '=' || next[0] === '!') [this.i, look] = [this.i + 2, true];
        else if (next === '<=' || next === '<!') [this.i, look] = [this.i + 3, true];
        else if (next[0] === '<' && /[A-Za-z_$]/.test(next[1] ?? '') && this.src.includes('>', this.i)) this.i = this.src.indexOf('>', this.i) + 1;
        else throw new Unsupported(`the group (?${next}`);
      }
      const inner = this.disjunction();
      if (this.src[this.i] !== ')') throw new Unsupported('an unclosed group');
      this.i++;
      if (!look) return inner;
      // A lookaround only prunes; without repetition inside it costs a constant each time it is tried.
      if (repeats(inner)) throw new Unsupported('repetition inside a lookaround');
      return { t: 'assert', kind: 'look' };
    }
    if (c === '[') return this.set(this.charClass());
    if (c === '.') {
      this.i++;
      return this.set(this.flags.includes('s') ? [[0, this.max]] : complement(LINE_TERMINATORS, this.max));
    }
    if (c === '\\') {
      this.i++;
      return this.set(this.escape(false));
    }
    if (c === '*' || c === '+' || c === '?' || c === '{') throw new Unsupported(`nothing to repeat at ${this.i}`);
    return this.set([this.literal()]);
  }

  /**
   * With the i flag a set also reads the other case of its ASCII letters and, since case folding beyond ASCII
   * (e.g. k and the Kelvin sign) is not modelled, everything above ASCII if it holds a letter or a non-ASCII
   * character: a larger set only makes the disjointness checks stricter.
   */
  set(ranges: Ranges): Node {
    if (!this.flags.includes('i')) return { t: 'set', set: ranges };
    const extra: Ranges = [];
    let foldable = false;
    for (const [lo, hi] of ranges) {
      for (const [a, b, shift] of [[65, 90, 32], [97, 122, -32]] as const) {
        const from = Math.max(lo, a);
        const to = Math.min(hi, b);
        if (from > to) continue;
        extra.push([from + shift, to + shift]);
        foldable = true;
      }
      if (hi >= 0x80) foldable = true;
    }
    if (foldable) extra.push([0x80, this.max]);
    return { t: 'set', set: normalize([...ranges, ...extra]) };
  }

  /** One literal character (a surrogate pair is one character with the u flag). */
  literal(): [number, number] {
    const cp = this.flags.includes('u') ? this.src.codePointAt(this.i)! : this.src.charCodeAt(this.i);
    this.i += cp > 0xffff ? 2 : 1;
    return [cp, cp];
  }

  /** After a backslash: a class escape or one character. */
  escape(inClass: boolean): Ranges {
    const c = this.src[this.i++];
    switch (c) {
      case 'd': return DIGIT;
      case 'D': return complement(DIGIT, this.max);
      case 'w': return WORD;
      case 'W': return complement(WORD, this.max);
      case 's': return SPACE;
      case 'S': return complement(SPACE, this.max);
      case 'n': return [ch('\n')];
      case 'r': return [ch('\r')];
      case 't': return [ch('\t')];
      case 'v': return [ch('\v')];
      case 'f': return [ch('\f')];
      case 'b':
        if (inClass) return [[8, 8]];
        break;
      case '0':
        if (!/\d/.test(this.src[this.i] ?? '')) return [[0, 0]];
        break;
      case 'x': {
        const hex = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.i, this.i + 2));
        if (!hex) break;
        this.i += 2;
        const v = parseInt(hex[0], 16);
        return [[v, v]];
      }
      case 'u': {
        const braced = this.flags.includes('u') ? /^\{([0-9A-Fa-f]{1,6})\}/.exec(this.src.slice(this.i, this.i + 8)) : null;
        const hex = braced ?? /^[0-9A-Fa-f]{4}/.exec(this.src.slice(this.i, this.i + 4));
        if (!hex) break;
        this.i += hex[0].length;
        const v = parseInt(braced ? braced[1]! : hex[0], 16);
        return [[v, v]];
      }
      case undefined:
        throw new Unsupported('a trailing backslash');
      default:
        // Backreferences, \k, \p, \c are outside the subset; anything else is the character itself.
        if (/[1-9kpPcB]/.test(c)) break;
        return [ch(c)];
    }
    throw new Unsupported(`the escape \\${c}`);
  }

  charClass(): Ranges {
    this.i++; // [
    const negated = this.src[this.i] === '^';
    if (negated) this.i++;
    const parts: Ranges = [];
    while (this.src[this.i] !== ']') {
      if (this.i >= this.src.length) throw new Unsupported('an unclosed class');
      const lo = this.classAtom();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        const hi = this.classAtom();
        if (lo.length !== 1 || hi.length !== 1 || lo[0]![0] !== lo[0]![1] || hi[0]![0] !== hi[0]![1]) throw new Unsupported('a range of classes');
        parts.push([lo[0]![0], hi[0]![0]]);
      } else parts.push(...lo);
    }
    this.i++; // ]
    return negated ? complement(parts, this.max) : normalize(parts);
  }

  classAtom(): Ranges {
    if (this.src[this.i] === '\\') {
      this.i++;
      return this.escape(true);
    }
    return [this.literal()];
  }
}

// ---- Glushkov positions and the checks ----

interface Info {
  nullable: boolean;
  first: number[];
  last: number[];
}

class Analysis {
  readonly sets: Ranges[] = [];
  readonly inLoop: boolean[] = [];
  readonly follow = new Map<number, Set<number>>();
  /** Positions of a loop that ends the pattern (see the unanchored rule). */
  readonly tail = new Set<number>();

  link(from: readonly number[], to: readonly number[], why: string): void {
    for (const x of from) {
      const set = this.follow.get(x) ?? new Set<number>();
      for (const y of to) {
        if (set.has(y)) throw new NotLinear(`two ways to go on from one position (${why})`);
        set.add(y);
      }
      this.follow.set(x, set);
    }
  }

  info(node: Node, loop: boolean): Info {
    switch (node.t) {
      case 'set': {
        const p = this.sets.push(node.set) - 1;
        this.inLoop[p] = loop;
        return { nullable: false, first: [p], last: [p] };
      }
      case 'assert':
        return { nullable: true, first: [], last: [] };
      case 'seq': {
        let acc: Info = { nullable: true, first: [], last: [] };
        for (const item of node.items) {
          const next = this.info(item, loop);
          this.link(acc.last, next.first, 'sequence');
          acc = {
            nullable: acc.nullable && next.nullable,
            first: acc.nullable ? [...acc.first, ...next.first] : acc.first,
            last: next.nullable ? [...acc.last, ...next.last] : next.last,
          };
        }
        return acc;
      }
      case 'alt': {
        const options = node.options.map((o) => this.info(o, loop));
        return { nullable: options.some((o) => o.nullable), first: options.flatMap((o) => o.first), last: options.flatMap((o) => o.last) };
      }
      case 'rep': {
        if (node.max < node.min) throw new Unsupported('a quantifier whose maximum is below its minimum');
        const repeats = node.max > 1;
        const body = this.info(node.body, loop || repeats);
        if (repeats) {
          if (body.nullable) throw new NotLinear('a repeated part can match the empty string');
          this.link(body.last, body.first, 'nested repetition');
        }
        return { nullable: body.nullable || node.min === 0, first: body.first, last: body.last };
      }
    }
  }
}

function repeats(node: Node): boolean {
  switch (node.t) {
    case 'set':
    case 'assert':
      return false;
    case 'seq':
      return node.items.some(repeats);
    case 'alt':
      return node.options.some(repeats);
    case 'rep':
      return node.max > 1 || repeats(node.body);
  }
}

function startsAnchored(node: Node): boolean {
  switch (node.t) {
    case 'assert':
      return node.kind === 'start';
    case 'set':
      return false;
    case 'seq':
      for (const item of node.items) {
        if (item.t === 'assert' && (item.kind === 'boundary' || item.kind === 'look')) continue;
        return startsAnchored(item);
      }
      return false;
    case 'alt':
      return node.options.every(startsAnchored);
    case 'rep':
      return node.min >= 1 && startsAnchored(node.body);
  }
}

/** Whether the pattern ends with a top-level `x+`/`x*`/`x{m,n}` over one character set. */
function endsWithSingleSetLoop(node: Node): boolean {
  const last = node.t === 'seq' ? node.items[node.items.length - 1] : node;
  return last?.t === 'rep' && last.max > 1 && last.body.t === 'set';
}

/** Whether `pattern` provably matches in time linear in the input's length (see the module comment). */
export function regexLinearity(pattern: RegExp | string, flags = ''): Linearity {
  const source = typeof pattern === 'string' ? pattern : pattern.source;
  const f = typeof pattern === 'string' ? flags : pattern.flags;
  try {
    for (const flag of f) if (!'dgimsuy'.includes(flag)) throw new Unsupported(`the ${flag} flag`);
    const root = new Parser(source, f).parse();
    const a = new Analysis();
    const top = a.info(root, false);
    // Positions are numbered in the order they are met, so a tail loop's only position is the last one.
    if (endsWithSingleSetLoop(root)) a.tail.add(a.sets.length - 1);
    for (let p = 0; p < a.sets.length; p++) {
      if (!a.inLoop[p]) continue;
      const next = [...(a.follow.get(p) ?? [])];
      for (let i = 0; i < next.length; i++) {
        for (let j = i + 1; j < next.length; j++) {
          if (intersects(a.sets[next[i]!]!, a.sets[next[j]!]!)) {
            throw new NotLinear('inside a repetition, one character can be read by two different parts of the pattern');
          }
        }
      }
    }
    const anchored = f.includes('y') || (!f.includes('m') && startsAnchored(root));
    if (!anchored) {
      const loops = a.sets.map((_, p) => p).filter((p) => a.inLoop[p] && !a.tail.has(p));
      if (loops.length > 0 && top.nullable) throw new NotLinear('an unanchored pattern that can match the empty string repeats a part');
      for (const p of loops) {
        if (top.first.some((q) => intersects(a.sets[q]!, a.sets[p]!))) {
          throw new NotLinear('unanchored: a repetition can read the character a new attempt starts with');
        }
      }
    }
    return { linear: true };
  } catch (err) {
    if (err instanceof NotLinear) return { linear: false, reason: err.message };
    if (err instanceof Unsupported) return { linear: false, reason: `not proven: ${err.message} is outside the checked subset` };
    throw err;
  }
}
