export * from "./matmul.js";
export * from "./norm.js";
export * from "./activations.js";
export { startThreads, stopThreads, threadCount } from "./threads.js";
