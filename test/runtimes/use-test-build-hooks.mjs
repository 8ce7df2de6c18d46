// Module resolution hooks for use-test-build.mjs (run on Node's loader thread).
let target;

export function initialize(data) {
  target = data?.target;
}

export async function resolve(specifier, context, next) {
  if (specifier === "gliner2" && target) return { url: target, shortCircuit: true };
  return next(specifier, context);
}
