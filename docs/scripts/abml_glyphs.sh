#!/usr/bin/env bash
# ABML next to MAML on glyphs 5-way 1-shot at one equal, small budget: accuracy and ECE (issue #7).
# Usage: bash docs/scripts/abml_glyphs.sh ITERATIONS META_BATCH
# Both use the MAML paper's Omniglot inner loop (one SGD step at 0.4, three at test); ABML draws
# one weight sample per ELBO estimate in training (samples=1) and averages 10 at test.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
iters=$1; mb=$2
common=(--benchmark glyphs --ways 5 --shots 1 --queries 5 --inner-lr 0.4 --inner-steps 1 --eval-inner-steps 3
        --iterations "$iters" --meta-batch "$mb" --val-every 50 --val-tasks 100 --test-tasks 600 --no-progress --json)
for alg in maml abml; do
  extra=(); [ "$alg" = abml ] && extra=(--param samples=1)
  nice -n 5 metaopt train --algorithm "$alg" "${common[@]}" "${extra[@]}" --out "runs/bayes/$alg-5w1s-i$iters" \
    | tail -n 1 > "runs/bayes/$alg-5w1s-i$iters.json"
done
nice -n 5 metaopt calibrate --checkpoint "runs/bayes/maml-5w1s-i$iters" --checkpoint "runs/bayes/abml-5w1s-i$iters" \
  --tasks 600 --no-progress --json | tail -n 1 > "runs/bayes/calibration-i$iters.json"
cat "runs/bayes/calibration-i$iters.json"
