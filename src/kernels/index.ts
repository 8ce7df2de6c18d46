export * from "./matmul.js";
export * from "./norm.js";
export * from "./activations.js";
export { firstNonFinite, firstNonFiniteReference } from "./scan.js";
export { startThreads, stopThreads, threadCount } from "./threads.js";
export {
  dequantizeRows,
  int8KernelIsDefault,
  int8Linear,
  isInt8,
  linearInt8,
  linearInt8Auto,
  linearInt8Reference,
  quantizeRows,
  quantizeRows16,
  setInt8Backend,
  type Int8Linear,
  type Int8LinearKernel,
  type Int8Rows,
} from "./int8.js";
export { setBackend, activeBackend, backendInfo, BACKENDS, type Backend, type ActiveBackend } from "./backend.js";
