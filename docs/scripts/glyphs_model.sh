#!/usr/bin/env bash
# Glyph table of docs/results/model-based.md, issue #3's model-based learners (SNAIL, the meta-LSTM), evaluated on the
# same 600 fixed meta-test tasks as glyphs.sh (5 query images per class, disjoint test alphabets).
# Usage: bash docs/scripts/glyphs_model.sh ALGORITHM WAYS SHOTS ITERATIONS META_BATCH
# One run at a time (nice, one thread). SNAIL keeps its defaults; the meta-LSTM takes 5 inner steps
# with its input gate starting at 0.1 and a 4-unit first LSTM layer (the paper has 20: on this CPU
# the coordinate-wise LSTM over Conv4's 112k weights costs more than the Conv4 itself).
set -euo pipefail
ALGO=$1; WAYS=$2; SHOTS=$3; ITER=$4; MB=$5
export OMP_NUM_THREADS=1
out=runs/glyphs/$ALGO-${WAYS}w${SHOTS}s
mkdir -p runs/glyphs
extra=()
[ "$ALGO" = metalstm ] && extra=(--inner-lr 0.1 --inner-steps 5 --param hidden_size=4)
nice -n 5 metaopt train --algorithm "$ALGO" --benchmark glyphs --ways "$WAYS" --shots "$SHOTS" --queries 5 \
  --iterations "$ITER" --meta-batch "$MB" "${extra[@]}" --val-every 100 --val-tasks 100 \
  --test-tasks 600 --seed 0 --out "$out" --no-progress --json > "$out.log" \
  || { echo "$ALGO ${WAYS}w${SHOTS}s FAILED (see $out.log)"; exit 1; }
tail -n 1 "$out.log" > "$out.json"
echo "$ALGO ${WAYS}w${SHOTS}s done"
