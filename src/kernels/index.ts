export * from "./matmul.js";
export * from "./norm.js";
export * from "./activations.js";
export { startThreads, stopThreads, threadCount } from "./threads.js";
export { setBackend, activeBackend, backendInfo, BACKENDS, type Backend, type ActiveBackend } from "./backend.js";
