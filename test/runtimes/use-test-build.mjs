// Preloaded with `node --import` when the examples run under test: resolves the package name "gliner2" to the
// test build named by GLINER2_TEST_BUILD (a file URL of its index.js) instead of dist/.
import { register } from "node:module";

register("./use-test-build-hooks.mjs", import.meta.url, { data: { target: process.env.GLINER2_TEST_BUILD } });
