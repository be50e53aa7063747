#!/usr/bin/env bash
# Glyph table of docs/results.md: optimisation-based learners on glyphs N-way K-shot, evaluated on
# the same 600 fixed meta-test tasks (5 query images per class, disjoint test alphabets).
# Usage: bash docs/scripts/glyphs.sh WAYS SHOTS ITERATIONS META_BATCH PARALLEL [ALGORITHM ...]
# Inner-loop settings follow the MAML paper's Omniglot protocol: 5-way, one step at lr 0.4
# (3 steps at test); 20-way, five steps at lr 0.1. MAML++ keeps its own (5 steps, lr 0.1, learned);
# Reptile takes 5 SGD steps at lr 0.1 on support+query and 10 at test.
set -euo pipefail
WAYS=$1; SHOTS=$2; ITER=$3; MB=$4; PAR=$5; shift 5
ALGOS=${*:-maml fomaml anil metasgd metacurvature taml reptile mamlpp}
export WAYS SHOTS ITER MB OMP_NUM_THREADS=1
one() {
  algo=$1; out=runs/glyphs/$algo-${WAYS}w${SHOTS}s
  if [ "$WAYS" -ge 20 ]; then inner=(--inner-lr 0.1 --inner-steps 5 --eval-inner-steps 5)
  else inner=(--inner-lr 0.4 --inner-steps 1 --eval-inner-steps 3); fi
  [ "$algo" = mamlpp ] && inner=()
  [ "$algo" = reptile ] && inner=(--inner-lr 0.1 --inner-steps 5 --eval-inner-steps 10)
  metaopt train --algorithm "$algo" --benchmark glyphs --ways "$WAYS" --shots "$SHOTS" --queries 5 \
    --iterations "$ITER" --meta-batch "$MB" "${inner[@]}" --val-every 100 --val-tasks 100 \
    --test-tasks 600 --seed 0 --out "$out" --no-progress --json > "$out.log" \
    || { echo "$algo ${WAYS}w${SHOTS}s FAILED (see $out.log)"; return 1; }
  tail -n 1 "$out.log" > "$out.json"
  echo "$algo ${WAYS}w${SHOTS}s done"
}
export -f one
printf '%s\n' $ALGOS | xargs -P "$PAR" -I{} bash -c 'one {}'
