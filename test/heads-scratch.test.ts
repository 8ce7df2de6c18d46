/** The heads' reusable buffers: reused for small sizes, never kept past RETAINED_MAX. */
import { describe, expect, it } from "vitest";
import { RETAINED_MAX, scratch } from "../src/heads/scratch.js";

describe("heads scratch buffers", () => {
  it("reuses one buffer per key up to RETAINED_MAX and allocates larger ones fresh", () => {
    const key = {};
    const a = scratch(key, 1000);
    expect(a.length).toBe(1000);
    const b = scratch(key, 500);
    expect(b.length).toBe(500);
    expect(b.buffer).toBe(a.buffer); // reused
    expect(scratch({}, 10).buffer).not.toBe(a.buffer); // another key, another buffer
    const big1 = scratch(key, RETAINED_MAX + 1);
    const big2 = scratch(key, RETAINED_MAX + 1);
    expect(big1.length).toBe(RETAINED_MAX + 1);
    expect(big2.buffer).not.toBe(big1.buffer); // not kept
    expect(scratch(key, 700).buffer).toBe(a.buffer); // the small one is still there
    const grown = scratch(key, RETAINED_MAX);
    expect(grown.length).toBe(RETAINED_MAX);
    expect(grown.buffer.byteLength).toBe(RETAINED_MAX * 4); // capped, not 1.5× past the cap
  });
});
