/**
 * A backtracking regex matcher with a step budget, for validator patterns (which users write and which run on
 * every candidate span). JavaScript's RegExp cannot be interrupted, so a pattern such as `(a|aa)+$` on a
 * 33-character word would hang the process for seconds to hours; here every step is counted and a runaway
 * match ends with a typed error instead.
 *
 * Input: the JavaScript `v`-mode source that `pyregex.ts` produces from a Python pattern (already accepted by
 * `new RegExp`, so well formed). Every single-character atom (literal, escape, class) is delegated to a
 * one-character native RegExp with the same flags, so Unicode properties and case-insensitive matching are
 * exactly JavaScript's; only the structure (sequence, alternation, groups, quantifiers, anchors, lookaround,
 * back-references) is interpreted here, compiled to a small program run with an explicit backtrack stack (no
 * recursion, so long inputs cannot overflow the call stack). Matching is per code point, like `u`/`v` mode.
 *
 * Python's rule that a look-behind must have a fixed width is enforced at compile time (JS would accept more).
 */
import { SchemaError } from "../errors.js";

/** Steps one `test()` may take before giving up (a real validator on a span needs a few thousand). */
export const DEFAULT_STEP_BUDGET = 1_000_000;
/** Largest compiled program (counted repetitions are expanded). */
const MAX_PROGRAM = 100_000;

type Node =
  | { t: "char"; src: string }
  | { t: "seq"; xs: Node[] }
  | { t: "alt"; xs: Node[] }
  | { t: "group"; cap: number | null; x: Node }
  | { t: "look"; behind: boolean; neg: boolean; x: Node }
  | { t: "bol" }
  | { t: "eol" }
  | { t: "backref"; n: number | string }
  | { t: "rep"; x: Node; min: number; max: number; lazy: boolean };

const enum Op {
  Char,
  Split,
  Jmp,
  Save,
  Mark,
  Progress,
  Bol,
  Eol,
  Backref,
  Look,
  Match,
}

type Instr =
  | { op: Op.Char; test: (cp: number) => boolean }
  | { op: Op.Split; x: number; y: number }
  | { op: Op.Jmp; x: number }
  | { op: Op.Save; n: number }
  | { op: Op.Mark; r: number }
  | { op: Op.Progress; r: number }
  | { op: Op.Bol }
  | { op: Op.Eol }
  | { op: Op.Backref; n: number }
  | { op: Op.Look; behind: boolean; neg: boolean; width: number; prog: Instr[] }
  | { op: Op.Match };

/** Parser of the translator's JS source (v mode). */
class Parser {
  i = 0;
  groups = 0;
  readonly names = new Map<string, number>();
  constructor(private readonly s: string) {}

  parse(): Node {
    const n = this.alt();
    if (this.i !== this.s.length) throw new Error(`internal: unparsed regex source at ${this.i}`);
    return n;
  }

  private alt(): Node {
    const xs = [this.seq()];
    while (this.s[this.i] === "|") {
      this.i++;
      xs.push(this.seq());
    }
    return xs.length === 1 ? xs[0] : { t: "alt", xs };
  }

  private seq(): Node {
    const xs: Node[] = [];
    while (this.i < this.s.length && this.s[this.i] !== "|" && this.s[this.i] !== ")") xs.push(this.quantified(this.atom()));
    return xs.length === 1 ? xs[0] : { t: "seq", xs };
  }

  private quantified(x: Node): Node {
    for (;;) {
      const c = this.s[this.i];
      let min: number;
      let max: number;
      if (c === "*" || c === "+" || c === "?") {
        this.i++;
        [min, max] = c === "*" ? [0, Infinity] : c === "+" ? [1, Infinity] : [0, 1];
      } else if (c === "{") {
        const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(this.s.slice(this.i, this.i + 40));
        if (m === null) return x;
        this.i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      } else return x;
      const lazy = this.s[this.i] === "?";
      if (lazy) this.i++;
      x = { t: "rep", x, min, max, lazy };
    }
  }

  private atom(): Node {
    const s = this.s;
    const c = s[this.i];
    if (c === "(") {
      const rest = s.slice(this.i, this.i + 4);
      let node: Node;
      if (rest.startsWith("(?:")) {
        this.i += 3;
        node = { t: "group", cap: null, x: this.alt() };
      } else if (rest.startsWith("(?=") || rest.startsWith("(?!")) {
        this.i += 3;
        node = { t: "look", behind: false, neg: rest[2] === "!", x: this.alt() };
      } else if (rest.startsWith("(?<=") || rest.startsWith("(?<!")) {
        this.i += 4;
        node = { t: "look", behind: true, neg: rest[3] === "!", x: this.alt() };
      } else if (rest.startsWith("(?<")) {
        const close = s.indexOf(">", this.i);
        const name = s.slice(this.i + 3, close);
        this.i = close + 1;
        const cap = ++this.groups;
        this.names.set(name, cap);
        node = { t: "group", cap, x: this.alt() };
      } else {
        this.i++;
        node = { t: "group", cap: ++this.groups, x: this.alt() };
      }
      this.i++; // ")"
      return node;
    }
    if (c === "^") {
      this.i++;
      return { t: "bol" };
    }
    if (c === "$") {
      this.i++;
      return { t: "eol" };
    }
    if (c === "[") return { t: "char", src: this.classSource() };
    if (c === "\\") {
      const next = s[this.i + 1];
      if (next === "k") {
        const close = s.indexOf(">", this.i);
        const name = s.slice(this.i + 3, close);
        this.i = close + 1;
        return { t: "backref", n: name };
      }
      if (next >= "1" && next <= "9") {
        const m = /^\d+/.exec(s.slice(this.i + 1))!;
        this.i += 1 + m[0].length;
        return { t: "backref", n: Number(m[0]) };
      }
      if (next === "u" && s[this.i + 2] === "{") {
        const close = s.indexOf("}", this.i);
        const src = s.slice(this.i, close + 1);
        this.i = close + 1;
        return { t: "char", src };
      }
      if (next === "x") {
        const src = s.slice(this.i, this.i + 4);
        this.i += 4;
        return { t: "char", src };
      }
      const cp = s.codePointAt(this.i + 1)!;
      const src = s.slice(this.i, this.i + 1 + (cp > 0xffff ? 2 : 1));
      this.i += src.length;
      return { t: "char", src };
    }
    if (c === ".") {
      this.i++;
      return { t: "char", src: "." };
    }
    const cp = s.codePointAt(this.i)!;
    const src = String.fromCodePoint(cp);
    this.i += src.length;
    return { t: "char", src };
  }

  /** The source of a (possibly nested) class starting at `[`. */
  private classSource(): string {
    const s = this.s;
    const start = this.i;
    let depth = 0;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === "\\") {
        this.i += 2;
        continue;
      }
      if (c === "[") depth++;
      else if (c === "]" && --depth === 0) {
        this.i++;
        return s.slice(start, this.i);
      }
      this.i++;
    }
    throw new Error("internal: unterminated class in translated regex");
  }
}

/** Width in code points when fixed, else null (Python only allows fixed-width look-behind). */
function fixedWidth(n: Node): number | null {
  switch (n.t) {
    case "char":
      return 1;
    case "bol":
    case "eol":
    case "look":
      return 0;
    case "backref":
      return null;
    case "group":
      return fixedWidth(n.x);
    case "seq": {
      let w = 0;
      for (const x of n.xs) {
        const v = fixedWidth(x);
        if (v === null) return null;
        w += v;
      }
      return w;
    }
    case "alt": {
      const ws = n.xs.map(fixedWidth);
      return ws.every((w) => w !== null && w === ws[0]) ? ws[0] : null;
    }
    case "rep": {
      const w = fixedWidth(n.x);
      return w !== null && n.min === n.max ? w * n.min : null;
    }
  }
}

/** One-character tests shared by every compiled pattern (keyed by flags and atom source; bounded). */
const atomTests = new Map<string, (cp: number) => boolean>();
const MAX_ATOM_TESTS = 4096;

class Compiler {
  regs = 0;
  constructor(
    private readonly flags: string,
    private readonly names: Map<string, number>,
    private readonly fail: (msg: string) => never,
  ) {}

  program(n: Node): Instr[] {
    const prog: Instr[] = [];
    this.emit(n, prog);
    prog.push({ op: Op.Match });
    return prog;
  }

  private test(src: string): (cp: number) => boolean {
    const key = `${this.flags}/${src}`;
    let t = atomTests.get(key);
    if (t === undefined) {
      const re = new RegExp(`^(?:${src})$`, this.flags);
      const seen = new Map<number, boolean>();
      t = (cp) => {
        let v = seen.get(cp);
        if (v === undefined) {
          v = re.test(String.fromCodePoint(cp));
          if (seen.size < 4096) seen.set(cp, v);
        }
        return v;
      };
      if (atomTests.size >= MAX_ATOM_TESTS) atomTests.delete(atomTests.keys().next().value!);
      atomTests.set(key, t);
    }
    return t;
  }

  private emit(n: Node, p: Instr[]): void {
    if (p.length > MAX_PROGRAM) this.fail(`the pattern is too large once its counted repetitions are expanded (over ${MAX_PROGRAM} steps)`);
    switch (n.t) {
      case "char":
        p.push({ op: Op.Char, test: this.test(n.src) });
        return;
      case "bol":
        p.push({ op: Op.Bol });
        return;
      case "eol":
        p.push({ op: Op.Eol });
        return;
      case "backref": {
        const k = typeof n.n === "number" ? n.n : this.names.get(n.n);
        if (k === undefined) this.fail(`unknown group name ${n.n}`);
        p.push({ op: Op.Backref, n: k });
        return;
      }
      case "seq":
        for (const x of n.xs) this.emit(x, p);
        return;
      case "group":
        if (n.cap !== null) p.push({ op: Op.Save, n: 2 * n.cap });
        this.emit(n.x, p);
        if (n.cap !== null) p.push({ op: Op.Save, n: 2 * n.cap + 1 });
        return;
      case "look": {
        let width = 0;
        if (n.behind) {
          const w = fixedWidth(n.x);
          if (w === null) this.fail("look-behind requires fixed-width pattern");
          width = w;
        }
        const sub: Instr[] = [];
        this.emit(n.x, sub);
        sub.push({ op: Op.Match });
        p.push({ op: Op.Look, behind: n.behind, neg: n.neg, width, prog: sub });
        return;
      }
      case "alt": {
        // Split a, next; a: x0; jmp end; next: Split b, … ; last: xn; end:
        const jumps: { op: Op.Jmp; x: number }[] = [];
        n.xs.forEach((x, k) => {
          if (k < n.xs.length - 1) {
            const split = { op: Op.Split, x: p.length + 1, y: -1 } as { op: Op.Split; x: number; y: number };
            p.push(split);
            this.emit(x, p);
            const j = { op: Op.Jmp, x: -1 } as { op: Op.Jmp; x: number };
            p.push(j);
            jumps.push(j);
            split.y = p.length;
          } else this.emit(x, p);
        });
        for (const j of jumps) j.x = p.length;
        return;
      }
      case "rep": {
        for (let k = 0; k < n.min; k++) this.emit(n.x, p);
        if (n.max === Infinity) {
          // L: Split body, exit; body: Mark r; x; Progress r; Jmp L; exit:
          const r = this.regs++;
          const top = p.length;
          const split = { op: Op.Split, x: -1, y: -1 } as { op: Op.Split; x: number; y: number };
          p.push(split);
          const body = p.length;
          p.push({ op: Op.Mark, r });
          this.emit(n.x, p);
          p.push({ op: Op.Progress, r });
          p.push({ op: Op.Jmp, x: top });
          [split.x, split.y] = n.lazy ? [p.length, body] : [body, p.length];
          return;
        }
        const splits: { op: Op.Split; x: number; y: number }[] = [];
        for (let k = n.min; k < n.max; k++) {
          const split = { op: Op.Split, x: -1, y: -1 } as { op: Op.Split; x: number; y: number };
          p.push(split);
          splits.push(split);
          (split as { body?: number }).body = p.length;
          this.emit(n.x, p);
        }
        for (const s of splits) {
          const body = (s as { body?: number }).body!;
          [s.x, s.y] = n.lazy ? [p.length, body] : [body, p.length];
        }
        return;
      }
    }
  }
}

const BRANCH = 0;
const RESTORE_CAP = 1;
const RESTORE_REG = 2;

interface RunState {
  steps: number;
  readonly budget: number;
  readonly ignoreCase: boolean;
}

/** Run `prog` at `pos0`; the end position of the first match (ending at `endAt` when given), or -1. */
function run(prog: Instr[], s: number[], pos0: number, caps: number[], regs: number[], endAt: number, st: RunState): number {
  const stack: number[] = [];
  let pc = 0;
  let pos = pos0;
  for (;;) {
    if (++st.steps > st.budget) throw new BudgetExceeded();
    const ins = prog[pc];
    let ok = false;
    switch (ins.op) {
      case Op.Char:
        if (pos < s.length && ins.test(s[pos])) {
          pos++;
          pc++;
          ok = true;
        }
        break;
      case Op.Split:
        stack.push(BRANCH, ins.y, pos);
        pc = ins.x;
        ok = true;
        break;
      case Op.Jmp:
        pc = ins.x;
        ok = true;
        break;
      case Op.Save:
        stack.push(RESTORE_CAP, ins.n, caps[ins.n]);
        caps[ins.n] = pos;
        pc++;
        ok = true;
        break;
      case Op.Mark:
        stack.push(RESTORE_REG, ins.r, regs[ins.r]);
        regs[ins.r] = pos;
        pc++;
        ok = true;
        break;
      case Op.Progress:
        // An iteration that matched nothing ends the loop (JS and Python both refuse empty iterations).
        if (pos !== regs[ins.r]) {
          pc++;
          ok = true;
        }
        break;
      case Op.Bol:
        if (pos === 0) {
          pc++;
          ok = true;
        }
        break;
      case Op.Eol:
        if (pos === s.length) {
          pc++;
          ok = true;
        }
        break;
      case Op.Backref: {
        const a = caps[2 * ins.n];
        const b = caps[2 * ins.n + 1];
        if (a < 0 || b < 0) {
          ok = true; // an unset group matches the empty string in JS
          pc++;
          break;
        }
        const len = b - a;
        if (pos + len <= s.length) {
          ok = true;
          for (let k = 0; k < len && ok; k++) {
            st.steps++;
            ok = sameChar(s[a + k], s[pos + k], st.ignoreCase);
          }
          if (ok) {
            pos += len;
            pc++;
          }
        }
        break;
      }
      case Op.Look: {
        const start = ins.behind ? pos - ins.width : pos;
        const matched = start >= 0 && run(ins.prog, s, start, caps.slice(), regs.slice(), ins.behind ? pos : -1, st) >= 0;
        if (matched !== ins.neg) {
          pc++;
          ok = true;
        }
        break;
      }
      case Op.Match:
        if (endAt < 0 || pos === endAt) return pos;
        break;
    }
    if (ok) continue;
    // Backtrack: undo captures/registers until the most recent branch.
    for (;;) {
      if (stack.length === 0) return -1;
      const c = stack.pop()!;
      const b = stack.pop()!;
      const kind = stack.pop()!;
      if (kind === BRANCH) {
        pc = b;
        pos = c;
        break;
      }
      if (kind === RESTORE_CAP) caps[b] = c;
      else regs[b] = c;
    }
  }
}

function sameChar(a: number, b: number, ignoreCase: boolean): boolean {
  if (a === b) return true;
  if (!ignoreCase) return false;
  const x = String.fromCodePoint(a);
  const y = String.fromCodePoint(b);
  return x.toLowerCase() === y.toLowerCase() || x.toUpperCase() === y.toUpperCase();
}

class BudgetExceeded extends Error {}

/** A compiled pattern: `test(text)` with search semantics (like RegExp#test), within the step budget. */
export interface BudgetedRegex {
  test(text: string): boolean;
  /** Steps taken by the last `test` call (for tests). */
  readonly lastSteps: number;
}

/**
 * Compile the JS source `source` (flags "v" or "iv") into a budgeted matcher. `where`/`pattern` name the
 * validator in errors: a SchemaError at compile time (variable-width look-behind, too large) and when a test
 * exceeds `budget` steps.
 */
export function compileBudgeted(source: string, flags: string, where: string, pattern: string, budget = DEFAULT_STEP_BUDGET): BudgetedRegex {
  const fail = (msg: string): never => {
    throw new SchemaError(where, `regex ${JSON.stringify(pattern)}: ${msg}`);
  };
  const parser = new Parser(source);
  const ast = parser.parse();
  const compiler = new Compiler(flags, parser.names, fail);
  const prog = compiler.program(ast);
  const nCaps = 2 * (parser.groups + 1);
  const ignoreCase = flags.includes("i");
  let lastSteps = 0;
  return {
    get lastSteps() {
      return lastSteps;
    },
    test(text: string): boolean {
      const s: number[] = [];
      for (const ch of text) s.push(ch.codePointAt(0)!);
      const st: RunState = { steps: 0, budget, ignoreCase };
      try {
        for (let start = 0; start <= s.length; start++) {
          const caps = new Array<number>(nCaps).fill(-1);
          const regs = new Array<number>(compiler.regs).fill(-1);
          if (run(prog, s, start, caps, regs, -1, st) >= 0) return true;
        }
        return false;
      } catch (e) {
        if (!(e instanceof BudgetExceeded)) throw e;
        throw new SchemaError(
          where,
          `regex ${JSON.stringify(pattern)} gave up after ${budget} steps on a ${s.length}-character span (catastrophic backtracking); rewrite it without nested or overlapping repetition`,
        );
      } finally {
        lastSteps = st.steps;
      }
    },
  };
}
