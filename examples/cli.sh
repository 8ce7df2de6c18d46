#!/usr/bin/env bash
# The gliner2 command line on the tiny test checkpoint (pass another model as $1, e.g. fastino/gliner2-base-v1).
# Run from the repository root after `npm run build`:  bash examples/cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-test/fixtures/tiny-count_lstm_v2}"
gliner2() { node "${GLINER2_CLI:-dist/cli.js}" "$@"; }  # the built CLI (or: npx gliner2)

echo "# shorthand flags, text as an argument"
gliner2 extract -m "$MODEL" --entities person,company,location "Tim Cook leads Apple from Cupertino."

echo "# classification (single and multi-label), text on stdin"
echo "Great phone, terrible battery." | gliner2 extract -m "$MODEL" \
  --classify sentiment=positive,negative --classify multi:aspects=battery,screen,price

echo "# a structure from official field specs, and relations, with confidences"
gliner2 extract -m "$MODEL" --include-confidence \
  --json-struct 'product:name::str::The product name,price::str,storage::list' \
  --relations works_for \
  --text "The iPhone 15 Pro costs \$999 and ships with 256GB."

echo "# the JSON schema file"
gliner2 extract -m "$MODEL" --schema examples/schema.json "Satya Nadella runs Microsoft in Redmond."

echo "# JSONL in, JSONL out (ids and other fields kept), 2 texts per batch"
gliner2 extract -m "$MODEL" --entities person,company,location --jsonl --batch-size 2 --input examples/texts.jsonl

echo "# download a checkpoint from the hub (prints its local folder):  gliner2 download fastino/gliner2-base-v1"
