// Small memory: int8 weights and the word-embedding table left on disk (read per text from model.safetensors).
// For gliner2-base this is a ~250 MiB Node process instead of ~1 GB (README "int8"); outputs of the disk table are
// identical to the in-memory one, int8 moves confidences a little (measured in the README).
// Run: npm run build && node examples/low-memory.mjs [--model fastino/gliner2-base-v1 | ./gliner2-base-int8]
// On Linux (glibc), MALLOC_MMAP_THRESHOLD_=131072 in the environment keeps 10–20 MiB less resident (README "int8"):
//   MALLOC_MMAP_THRESHOLD_=131072 node examples/low-memory.mjs
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const text = "Apple CEO Tim Cook announced the iPhone 15 in Cupertino on September 12, 2023.";
const types = ["company", "person", "product", "location", "date"];

// quantize: "int8" converts a float32 checkpoint while loading; an int8 checkpoint (`gliner2 quantize`) needs no option.
// embeddings: "disk" needs the checkpoint as a folder on disk (a local folder, or a hub id from its cache).
const small = await GLiNER2.fromPretrained(modelArg(), { quantize: "int8", embeddings: "disk" });
show("int8, embedding table on disk:", await small.extractEntities(text, types, { includeConfidence: true }));
show("resident memory of this process (MiB):", { rss: Math.round(process.memoryUsage().rss / 2 ** 20) });

// The file stays open while the model lives; dispose() closes it (and ends the model's worker thread).
await small.dispose();
