import { expect } from "vitest";

/** Max |a − b| over the indices `keep` selects (all by default); the arrays must have equal length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array, keep: (i: number) => boolean = () => true): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (keep(i)) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
