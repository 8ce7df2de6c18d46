import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.js";
import { prepareText, pyLower, splitWords, type Word } from "../src/text/words.js";
import { codePointLength, listGoldenCases, readGoldenCase, readHeadOutput } from "./helpers/golden.js";

/**
 * Expected words produced by running the official splitter (fastino-ai/GLiNER2 HEAD v1.3.3 processor.py,
 * `WhitespaceTokenSplitter`: regex on the original text, each word lower-cased) in CPython 3.11 on each text.
 * Offsets are UTF-16 offsets into the original text (Python's code-point offsets converted).
 */
const PYTHON_SPLITS: Record<string, { text: string; words: [string, number, number][] }> = {
  urls: {
    text: "Visit https://Example.com/a?b=1, then www.Test.org/x! HTTP://FOO.bar/Baz and http:/nope ftp://x.y",
    words: [["visit", 0, 5], ["https://example.com/a?b=1,", 6, 32], ["then", 33, 37], ["www.test.org/x!", 38, 53], ["http://foo.bar/baz", 54, 72], ["and", 73, 76], ["http", 77, 81], [":", 81, 82], ["/", 82, 83], ["nope", 83, 87], ["ftp", 88, 91], [":", 91, 92], ["/", 92, 93], ["/", 93, 94], ["x", 94, 95], [".", 95, 96], ["y", 96, 97]],
  },
  emails: {
    text: "Mail John.Doe+x@Example.co.uk or a@b.c or x%y@host-1.io. Not@an email@x.y",
    words: [["mail", 0, 4], ["john.doe+x@example.co.uk", 5, 29], ["or", 30, 32], ["a", 33, 34], ["@b", 34, 36], [".", 36, 37], ["c", 37, 38], ["or", 39, 41], ["x%y@host-1.io", 42, 55], [".", 55, 56], ["not", 57, 60], ["@an", 60, 63], ["email", 64, 69], ["@x", 69, 71], [".", 71, 72], ["y", 72, 73]],
  },
  handles: {
    text: "@foo_bar says hi to @X-y and @@z, @élan",
    words: [["@foo_bar", 0, 8], ["says", 9, 13], ["hi", 14, 16], ["to", 17, 19], ["@x", 20, 22], ["-", 22, 23], ["y", 23, 24], ["and", 25, 28], ["@", 29, 30], ["@z", 30, 32], [",", 32, 33], ["@", 34, 35], ["élan", 35, 39]],
  },
  joins: {
    text: "state-of-the-art foo_bar baz- -qux a--b __init__ x_-y 3-4",
    words: [["state-of-the-art", 0, 16], ["foo_bar", 17, 24], ["baz", 25, 28], ["-", 28, 29], ["-", 30, 31], ["qux", 31, 34], ["a", 35, 36], ["-", 36, 37], ["-", 37, 38], ["b", 38, 39], ["__init__", 40, 48], ["x_-y", 49, 53], ["3-4", 54, 57]],
  },
  letters_digits: {
    text: "Café Straße ß 東京タワー مرحبا بالعالم ह\u093fन\u094dद\u0940 नमस\u094dत\u0947 x² ½ ٣٤ Ⅻ",
    words: [["café", 0, 4], ["straße", 5, 11], ["ß", 12, 13], ["東京タワー", 14, 19], ["مرحبا", 20, 25], ["بالعالم", 26, 33], ["ह", 34, 35], ["\u093f", 35, 36], ["न", 36, 37], ["\u094d", 37, 38], ["द", 38, 39], ["\u0940", 39, 40], ["नमस", 41, 44], ["\u094d", 44, 45], ["त", 45, 46], ["\u0947", 46, 47], ["x²", 48, 50], ["½", 51, 52], ["٣٤", 53, 55], ["ⅻ", 56, 57]],
  },
  emoji: {
    text: "I ❤\ufe0f \u{1f389} emoji\u{1f44d}\u{1f3fd} done \u{1f600}!",
    words: [["i", 0, 1], ["❤", 2, 3], ["\ufe0f", 3, 4], ["\u{1f389}", 5, 7], ["emoji", 8, 13], ["\u{1f44d}", 13, 15], ["\u{1f3fd}", 15, 17], ["done", 18, 22], ["\u{1f600}", 23, 25], ["!", 25, 26]],
  },
  kelvin: {
    text: "5 \u212a and K k",
    words: [["5", 0, 1], ["k", 2, 3], ["and", 4, 7], ["k", 8, 9], ["k", 10, 11]],
  },
  dotless: {
    text: "ılık Işık ſtop httpſ://x.y",
    words: [["ılık", 0, 4], ["işık", 5, 9], ["ſtop", 10, 14], ["httpſ://x.y", 15, 26]],
  },
  dotted_capital: {
    text: "İstanbul İİ x",
    words: [["i\u0307stanbul", 0, 8], ["i\u0307i\u0307", 9, 11], ["x", 12, 13]],
  },
  sigma: {
    text: "ΟΔΟΣ'Α ΟΔΟΣ. Σ ΑΣ\u0301Β",
    words: [["οδος", 0, 4], ["'", 4, 5], ["α", 5, 6], ["οδος", 7, 11], [".", 11, 12], ["σ", 13, 14], ["ας", 15, 17], ["\u0301", 17, 18], ["β", 18, 19]],
  },
  spaces: {
    text: "a\u0085b\u001cc\ufeffd\u200be\u00a0f\u3000g",
    words: [["a", 0, 1], ["b", 2, 3], ["c", 4, 5], ["\ufeff", 5, 6], ["d", 6, 7], ["\u200b", 7, 8], ["e", 8, 9], ["f", 10, 11], ["g", 12, 13]],
  },
  combining: {
    text: "e\u0301 a\u0308b",
    words: [["e", 0, 1], ["\u0301", 1, 2], ["a", 3, 4], ["\u0308", 4, 5], ["b", 5, 6]],
  },
  empty: {
    text: "",
    words: [],
  },
  whitespace: {
    text: "   \n ",
    words: [],
  },
};

const asTuples = (ws: Word[]) => ws.map((w) => [w.text, w.start, w.end]);

describe("prepareText (official text clean-up)", () => {
  it("maps the empty text to '.' and appends '.' unless the text ends in . ! ?", () => {
    expect(prepareText("")).toBe(".");
    expect(prepareText("hello")).toBe("hello.");
    expect(prepareText("hello.")).toBe("hello.");
    expect(prepareText("hello!")).toBe("hello!");
    expect(prepareText("hello?")).toBe("hello?");
    expect(prepareText("hello. ")).toBe("hello. .");
    expect(prepareText("   \n ")).toBe("   \n .");
    expect(prepareText("🎉")).toBe("🎉.");
    expect(prepareText("…")).toBe("….");
  });
  it("rejects a non-string with an InputError naming the argument", () => {
    expect(() => prepareText(42 as unknown as string)).toThrow(InputError);
    expect(() => splitWords(null as unknown as string)).toThrow(/text: expected a string, got null/);
  });
});

describe("splitWords matches the official splitter run in CPython", () => {
  for (const [name, { text, words }] of Object.entries(PYTHON_SPLITS)) {
    it(name, () => {
      const got = splitWords(text);
      expect(asTuples(got)).toEqual(words);
    });
  }

  it("slices of the original text lower-case (word by word, as Python) to the word", () => {
    for (const { text } of Object.values(PYTHON_SPLITS)) {
      for (const w of splitWords(text)) expect(pyLower(text.slice(w.start, w.end))).toBe(w.text);
    }
  });

  it("judges Final_Sigma inside the word, as Python's str.lower() on the matched word does", () => {
    expect(splitWords("ΟΔΟΣ'Α")[0].text).toBe("οδος");
    expect(splitWords("ΟΔΟΣ")[0].text).toBe("οδος");
    expect(splitWords("ΑΣ")[0].text).toBe("ας");
    expect(splitWords("ΣΑΣ")[0].text).toBe("σας");
  });

  it("handles a long text in linear-ish time and keeps offsets ordered", () => {
    const text = "The İstanbul office (https://x.io) e-mails a.b@c.de about 😀 state-of-the-art work. ".repeat(2000);
    const t0 = performance.now();
    const words = splitWords(text);
    const ms = performance.now() - t0;
    expect(words.length).toBe(2000 * 12); // CPython (HEAD splitter): 12 words per repetition
    expect(words.slice(0, 12).map((w) => w.text)).toEqual(
      ["the", "i\u0307stanbul", "office", "(", "https://x.io)", "e-mails", "a.b@c.de", "about", "\u{1f600}", "state-of-the-art", "work", "."],
    );
    for (let i = 1; i < words.length; i++) expect(words[i].start).toBeGreaterThanOrEqual(words[i - 1].start);
    expect(ms).toBeLessThan(2000);
  });
});

describe("golden cases: prepared text and words equal official HEAD's", () => {
  const cases = listGoldenCases();
  it("covers both checkpoints", () => {
    expect(new Set(cases.map((c) => c.checkpoint)).size).toBe(2);
    expect(cases.length).toBe(74);
  });

  let expanding = 0;
  for (const ref of cases) {
    it(`${ref.checkpoint}/${ref.name}`, () => {
      const golden = readGoldenCase(ref);
      const head = readHeadOutput(ref);
      for (const tp of head.texts_prepared) {
        const text = prepareText(golden.texts[tp.index]);
        expect(text).toBe(tp.text);
        const words = splitWords(text);
        // HEAD's offsets are code points into the original text.
        expect(words.map((w) => [w.text, codePointLength(text.slice(0, w.start)), codePointLength(text.slice(0, w.end))])).toEqual(tp.words);
        for (const w of words) if (w.text.length !== w.end - w.start) expanding++;
      }
    });
  }
  it("exercised a word whose lower-case form is longer (the unicode case, İ)", () => {
    expect(expanding).toBeGreaterThan(0);
  });
});

describe("splitWords: linear time, same matches as the official regex", () => {
  // Characters that exercise every alternative; all are their own Python lower-case, so the lower-cased text
  // the reference regex sees is the text itself.
  const ALPHABET = ["a", "b", "z", "0", "9", ".", "_", "%", "+", "-", "@", ":", "/", "h", "t", "p", "s", "w", "ı", "ſ", "é", "\u{1d41a}", "😀", "\u0301", " ", "\n", "\u00a0", "http://", "https://", "www.", ".co", "@x.io", "!", ","];

  it("gives the reference regex's words on random texts", async () => {
    const { rng, stringFrom } = await import("./helpers/prng.js");
    const { referenceMatches } = await import("./helpers/referenceSplitter.js");
    const r = rng(9);
    for (let k = 0; k < 3000; k++) {
      const text = stringFrom(r, ALPHABET, 40);
      const expected = referenceMatches(text).map(([s, e]) => [text.slice(s, e), s, e]);
      const got = splitWords(text).map((w) => [w.text, w.start, w.end]);
      expect(got, JSON.stringify(text)).toEqual(expected);
    }
  });

  // The quadratic regex took 30 s on 100 KB of "-"; the work is counted, not timed. One test per character
  // keeps each synchronous stretch short.
  for (const ch of ["-", ".", "%", "+", "a", "1", "_", "@", "é", "😀", " ", "/", ":"]) {
    it(`does a bounded amount of work per character on 1 MB of ${JSON.stringify(ch)}`, () => {
      const text = ch.repeat(1_000_000 / ch.length);
      const work = { steps: 0 };
      const words = splitWords(text, work);
      expect(words.length > 0).toBe(ch !== " ");
      expect(work.steps, ch).toBeLessThanOrEqual(8 * text.length);
    });
  }

  it("does a bounded amount of work per character on adversarial mixes", () => {
    for (const unit of ["1.", "a.", "a-", "-a", "a@", "@a", "a@b.", ".cc@", "a@b.c", "http", "www.", "x@y.zz."]) {
      for (const n of [1000, 30_000]) {
        const text = unit.repeat(n);
        const work = { steps: 0 };
        splitWords(text, work);
        expect(work.steps, `${unit} × ${n}`).toBeLessThanOrEqual(12 * text.length);
      }
    }
  });
});
