// Text classification: single-label, multi-label, and label descriptions.
// Run: npm run build && node examples/classification.mjs [--model fastino/gliner2-base-v1]
import { GLiNER2 } from "gliner2";
import { modelArg, show } from "./_args.mjs";

const model = await GLiNER2.fromPretrained(modelArg());
const review = "The battery lasts all day and the screen is gorgeous, but shipping took three weeks.";

show("single label:", await model.classifyText(review, { sentiment: ["positive", "negative", "neutral"] }));

show(
  "multi-label with a threshold, and confidences:",
  await model.classifyText(
    review,
    { aspects: { labels: ["battery", "display", "delivery", "price"], multiLabel: true, clsThreshold: 0.4 } },
    { includeConfidence: true },
  ),
);

show(
  "labels with descriptions:",
  await model.classifyText(review, { urgency: { labels: { high: "needs action today", low: "can wait" } } }),
);
