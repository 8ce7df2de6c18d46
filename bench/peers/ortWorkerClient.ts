/** The main-thread side of bench/ortEncoderWorker.ts: one onnxruntime-web session on `threads` threads in a worker. */
import { Worker } from "node:worker_threads";

export interface OrtRun {
  /** ms of this run, measured in the worker around session.run. */
  wall: number;
  /** ms of CPU time of the whole process during the run. */
  cpu: number;
  out?: Float32Array;
}

export interface OrtWorker {
  version: string;
  threads: number;
  run(ids: number[], mask: number[], keep?: boolean): Promise<OrtRun>;
  close(): Promise<void>;
}

export async function startOrtWorker(script: URL, model: Uint8Array, batch: number, length: number, threads: number): Promise<OrtWorker> {
  const worker = new Worker(script);
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        worker.off("error", onError);
        if (typeof m.error === "string") reject(new Error(`onnxruntime-web worker (${threads} threads): ${m.error}`));
        else resolve(m);
      };
      const onError = (e: Error) => {
        worker.off("message", onMessage);
        reject(e);
      };
      worker.once("message", onMessage);
      worker.once("error", onError);
    });
  const ready = next();
  worker.postMessage({ model, batch, length, threads });
  const r = await ready;
  return {
    version: String(r.version),
    threads: Number(r.threads),
    async run(ids, mask, keep = false) {
      const reply = next();
      worker.postMessage({ ids, mask, keep });
      return (await reply) as unknown as OrtRun;
    },
    close: async () => void (await worker.terminate()),
  };
}
