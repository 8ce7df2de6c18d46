/** The self-hosted API server (`gliner2 serve`), for embedding in your own process. */
export { startServer, isLoopback, type GlinerServer, type ServeOptions } from "./server.js";
export { parseApiRequest, HttpError, CLASSIFY_TASK_NAME, TASKS, type ApiRequest, type Task } from "./protocol.js";
