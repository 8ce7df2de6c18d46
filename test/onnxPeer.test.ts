/**
 * The onnxruntime-web peer of the encoder bench (bench/peers/onnxEncoder.ts) computes what our encoder computes:
 * the hand-written ONNX graph of the tiny checkpoint, run in onnxruntime-web, against our plain-TS encoder and
 * the official goldens, on every golden encoder run (L300 reaches the log-bucketed relative positions, `padded`
 * has a masked row).
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { ortEncoder } from "../bench/peers/ortEncoder.js";
import { encoderOnnx } from "../bench/peers/onnxEncoder.js";
import { setBackend } from "../src/kernels/index.js";
import { parseEncoderConfig } from "../src/model/config.js";
import { encode, loadDebertaEncoder } from "../src/model/deberta.js";
import { readSafetensorsFile } from "../src/model/safetensors.js";
import { maxAbsDiff } from "./helpers/compare.js";

const FIX = new URL("./fixtures/", import.meta.url).pathname;
const TOL = 1e-4;

describe("onnxruntime-web encoder peer (bench) = our encoder", async () => {
  setBackend("js");
  afterAll(() => void setBackend("auto"));
  const ckpt = `${FIX}tiny-count_lstm_v2/`;
  const config = parseEncoderConfig(readFileSync(`${ckpt}encoder_config/config.json`, "utf8"));
  const st = await readSafetensorsFile(`${ckpt}model.safetensors`);
  const enc = loadDebertaEncoder(st, config);
  const golden = await readSafetensorsFile(`${FIX}golden/encoder.safetensors`);
  const meta = JSON.parse(readFileSync(`${FIX}golden/encoder.json`, "utf8")) as { runs: { name: string; batch: number; length: number }[] };
  const H = config.hiddenSize;

  it("covers long (log-bucketed) and padded inputs", () => {
    expect(meta.runs.some((r) => r.length > 2 * 128)).toBe(true);
    expect(meta.runs.some((r) => golden.ints(`${r.name}.attention_mask`).includes(0))).toBe(true);
  });

  for (const run of meta.runs) {
    it(`${run.name}: hidden states within ${TOL} of ours and of the golden at real positions`, async () => {
      const { batch: B, length: L } = run;
      const ids = golden.ints(`${run.name}.input_ids`, [B, L]);
      const mask = golden.ints(`${run.name}.attention_mask`, [B, L]);
      const model = encoderOnnx((name) => st.f32(name), config, { batch: B, length: L });
      const ort = await ortEncoder(model, B, L, 1);
      const peer = await ort.run(ids, mask);
      await ort.release();
      const ours = encode(enc, ids, mask, B, L);
      const real = (i: number) => mask[Math.floor(i / H)] === 1;
      const vsOurs = maxAbsDiff(peer, ours, real);
      const vsGolden = maxAbsDiff(peer, golden.f32(`${run.name}.last_hidden_state`), real);
      console.log(`${run.name}: max |ort − ours| = ${vsOurs.toExponential(2)}, |ort − golden| = ${vsGolden.toExponential(2)}`);
      expect(vsOurs).toBeLessThan(TOL);
      expect(vsGolden).toBeLessThan(TOL);
      // Not a constant or a copy of the input: the peer's output moves with the ids.
      expect(maxAbsDiff(peer, new Float32Array(peer.length))).toBeGreaterThan(0.1);
    });
  }

  it("a changed token changes the peer's output (the graph reads its inputs)", async () => {
    const L = 16;
    const ids = Array.from({ length: L }, (_, i) => 10 + i);
    const mask = new Array<number>(L).fill(1);
    const ort = await ortEncoder(encoderOnnx((name) => st.f32(name), config, { batch: 1, length: L }), 1, L, 1);
    const a = await ort.run(ids, mask);
    const b = await ort.run(ids.map((v, i) => (i === 5 ? v + 1 : v)), mask);
    await ort.release();
    expect(maxAbsDiff(a, encode(enc, ids, mask, 1, L))).toBeLessThan(TOL);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
  });
});
