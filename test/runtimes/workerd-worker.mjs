/**
 * The Cloudflare Worker test/workerd.test.ts runs in workerd: the browser/edge bundle with the tiny checkpoint
 * bundled as modules (JSON as text, weights as data), loaded with fromFiles, answering one extraction of the
 * case the request carries. The model is built on the first request (Workers forbid heavy work at start-up).
 */
import { backendInfo, GLiNER2 } from "./gliner2.js";
import config from "./config.json";
import encoderConfig from "./encoder_config.json";
import tokenizer from "./tokenizer.json";
import weights from "./model.safetensors";

let model = null;

export default {
  async fetch(request) {
    try {
      const testCase = await request.json();
      const started = Date.now();
      model ??= GLiNER2.fromFiles({ config, encoderConfig, tokenizer, weights: new Uint8Array(weights), source: "bundled" });
      const result = await model.extract(testCase.text, testCase.schema, testCase.options);
      return Response.json({ result, loadAndRunMs: Date.now() - started, backend: backendInfo().active });
    } catch (e) {
      return Response.json({ error: `${e?.name}: ${e?.message}`, stack: String(e?.stack) }, { status: 500 });
    }
  },
};
