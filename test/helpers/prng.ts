/** A small seeded PRNG (mulberry32) and generators for property/fuzz tests: same seed, same inputs. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty list. */
  pick<T>(xs: readonly T[]): T;
  /** true with probability p. */
  chance(p: number): boolean;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

/** A string of up to `max` pieces drawn from `alphabet` (pieces may be several characters long). */
export function stringFrom(r: Rng, alphabet: readonly string[], max: number): string {
  const n = r.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += r.pick(alphabet);
  return s;
}

/** Uniform numbers in [-1, 1) from the same mulberry32 stream (kernel tests' data). */
export function signedRng(seed: number): () => number {
  const r = rng(seed);
  return () => r.next() * 2 - 1;
}

/** `n` values of `r`, times `scale`, as float32. */
export function randFloats(n: number, r: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => r() * scale);
}
