/**
 * The server's counters, gauges and histograms, rendered in the Prometheus text exposition format (0.0.4).
 * Tokens are estimated from words (the tokenizer lives in the model's worker thread): rate(tokens) / rate(busy
 * seconds) is the model's throughput.
 */

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

interface Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum: number;
  count: number;
}

function histogram(buckets: readonly number[]): Histogram {
  return { buckets, counts: buckets.map(() => 0), sum: 0, count: 0 };
}

function observe(h: Histogram, v: number): void {
  h.sum += v;
  h.count++;
  for (let i = 0; i < h.buckets.length; i++) if (v <= h.buckets[i]) h.counts[i]++;
}

export interface Metrics {
  request(status: number, seconds: number): void;
  error(kind: string): void;
  batch(texts: number, tokens: number, seconds: number): void;
  /** A valid request's adapter (undefined = the model's default, null = the base model) and kind. */
  use(adapter: string | null | undefined, long: boolean, texts: number): void;
  render(gauges: { queueTexts: number; inflightTexts: number; ready: boolean; draining: boolean; loopDelay?: { p99: number; max: number } }): string;
}

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const errors = new Map<string, number>();
  const byAdapter = new Map<string, number>();
  const longTexts = { requests: 0, documents: 0 };
  const duration = histogram(DURATION_BUCKETS);
  const batchSize = histogram(BATCH_BUCKETS);
  let texts = 0;
  let tokens = 0;
  let busy = 0;
  const started = Date.now();

  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(9).replace(/\.?0+$/, ""));
  const hist = (name: string, help: string, h: Histogram) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} histogram`,
    ...h.buckets.map((b, i) => `${name}_bucket{le="${b}"} ${h.counts[i]}`),
    `${name}_bucket{le="+Inf"} ${h.count}`,
    `${name}_sum ${fmt(h.sum)}`,
    `${name}_count ${h.count}`,
  ];

  return {
    request(status, seconds) {
      bump(requests, String(status));
      observe(duration, seconds);
    },
    error(kind) {
      bump(errors, kind);
    },
    use(adapter, long, n) {
      // Adapter names are letters, digits, "_", "-", "." (never quotes or parentheses): safe label values.
      bump(byAdapter, adapter === undefined ? "(default)" : adapter === null ? "(base)" : adapter);
      if (long) {
        longTexts.requests++;
        longTexts.documents += n;
      }
    },
    batch(n, tok, seconds) {
      observe(batchSize, n);
      texts += n;
      tokens += tok;
      busy += seconds;
    },
    render(g) {
      const lines = [
        "# HELP gliner2_requests_total Extraction requests answered, by HTTP status.",
        "# TYPE gliner2_requests_total counter",
        ...[...requests].sort().map(([s, n]) => `gliner2_requests_total{status="${s}"} ${n}`),
        "# HELP gliner2_errors_total Requests that failed, by kind (auth, invalid, too_large, overloaded, timeout, not_ready, internal).",
        "# TYPE gliner2_errors_total counter",
        ...[...errors].sort().map(([k, n]) => `gliner2_errors_total{kind="${k}"} ${n}`),
        '# HELP gliner2_adapter_requests_total Valid extraction requests by the adapter they named ("(default)": none named, "(base)": null).',
        "# TYPE gliner2_adapter_requests_total counter",
        ...[...byAdapter].sort().map(([a, n]) => `gliner2_adapter_requests_total{adapter="${a}"} ${n}`),
        "# HELP gliner2_long_requests_total Valid long-document requests.",
        "# TYPE gliner2_long_requests_total counter",
        `gliner2_long_requests_total ${longTexts.requests}`,
        "# HELP gliner2_long_documents_total Long documents in valid requests.",
        "# TYPE gliner2_long_documents_total counter",
        `gliner2_long_documents_total ${longTexts.documents}`,
        ...hist("gliner2_request_duration_seconds", "Time from request received to response sent, extraction requests.", duration),
        ...hist("gliner2_batch_size", "Texts per model call (dynamic batching).", batchSize),
        "# HELP gliner2_queue_depth Texts waiting for the model.",
        "# TYPE gliner2_queue_depth gauge",
        `gliner2_queue_depth ${g.queueTexts}`,
        "# HELP gliner2_inflight_texts Texts the model is working on.",
        "# TYPE gliner2_inflight_texts gauge",
        `gliner2_inflight_texts ${g.inflightTexts}`,
        "# HELP gliner2_texts_total Texts extracted.",
        "# TYPE gliner2_texts_total counter",
        `gliner2_texts_total ${texts}`,
        "# HELP gliner2_tokens_total Estimated tokens (prompt + text) processed; rate() gives tokens/s.",
        "# TYPE gliner2_tokens_total counter",
        `gliner2_tokens_total ${tokens}`,
        "# HELP gliner2_model_busy_seconds_total Seconds the model spent on batches.",
        "# TYPE gliner2_model_busy_seconds_total counter",
        `gliner2_model_busy_seconds_total ${fmt(busy)}`,
        "# HELP gliner2_ready 1 once the model is loaded and the server is not draining.",
        "# TYPE gliner2_ready gauge",
        `gliner2_ready ${g.ready && !g.draining ? 1 : 0}`,
        ...(g.loopDelay
          ? [
              "# HELP gliner2_event_loop_delay_p99_seconds The server thread's event-loop delay, 99th percentile since the previous scrape.",
              "# TYPE gliner2_event_loop_delay_p99_seconds gauge",
              `gliner2_event_loop_delay_p99_seconds ${fmt(g.loopDelay.p99)}`,
              "# HELP gliner2_event_loop_delay_max_seconds The server thread's largest event-loop delay since the previous scrape.",
              "# TYPE gliner2_event_loop_delay_max_seconds gauge",
              `gliner2_event_loop_delay_max_seconds ${fmt(g.loopDelay.max)}`,
            ]
          : []),
        "# HELP gliner2_uptime_seconds Seconds since the server started.",
        "# TYPE gliner2_uptime_seconds gauge",
        `gliner2_uptime_seconds ${fmt((Date.now() - started) / 1000)}`,
      ];
      return `${lines.join("\n")}\n`;
    },
  };
}
