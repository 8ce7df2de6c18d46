/**
 * Worker thread for the encoder bench's onnxruntime-web rows (not a benchmark by itself). onnxruntime-web fixes
 * its thread count once per JS realm, so each thread count gets its own worker. Messages:
 *   in:  { model: Uint8Array (shared), batch, length, threads }   out: { ready: true, version, threads }
 *   in:  { ids, mask, keep?: boolean }                              out: { wall, cpu, out?: Float32Array }
 * `wall` / `cpu` are ms of this one run; cpu is the whole process's CPU time (every thread, this one's helpers
 * included) while the run was going, which is what tells whether onnxruntime really used 2 threads.
 */
import { isMainThread, parentPort } from "node:worker_threads";
import { ortEncoder, type OrtEncoder } from "./peers/ortEncoder.js";

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

if (isMainThread || !parentPort) {
  console.error("ortEncoderWorker: started by bench/encoder.ts (npm run bench -- --ort-encoder 128), not on its own");
  process.exitCode = 2;
} else {
  const port = parentPort;
  let enc: OrtEncoder | null = null;
  port.on("message", async (msg: { model?: Uint8Array; batch: number; length: number; threads: number } | { ids: number[]; mask: number[]; keep?: boolean }) => {
    try {
      if ("model" in msg && msg.model) {
        enc = await ortEncoder(msg.model, msg.batch, msg.length, msg.threads);
        port.postMessage({ ready: true, version: enc.version, threads: enc.threads });
        return;
      }
      if (!("ids" in msg) || !enc) throw new Error("ortEncoderWorker: run before the session was created");
      const t0 = performance.now();
      const c0 = cpuMs();
      const out = await enc.run(msg.ids, msg.mask);
      const cpu = cpuMs() - c0;
      const wall = performance.now() - t0;
      port.postMessage({ wall, cpu, out: msg.keep ? out : undefined });
    } catch (e) {
      port.postMessage({ error: e instanceof Error ? e.stack ?? e.message : String(e) });
    }
  });
}
