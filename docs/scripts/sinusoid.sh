#!/usr/bin/env bash
# Sinusoid table of docs/results/suite.md: every optimisation-based learner, K = 5 and 10, trained with
# the MAML paper's settings (MLP 1-40-40-1, meta-batch 25, Adam 1e-3, one inner step at lr 0.01
# unless the algorithm's own defaults differ: Reptile 5 steps at 0.02 with SGD outer; MAML++ 5 steps),
# then evaluated after 1 and after 10 adaptation steps on the same 600 fixed test tasks.
# Usage: bash docs/scripts/sinusoid.sh [ITERATIONS] [PARALLEL]
set -euo pipefail
ITER=${1:-5000}
PAR=${2:-2}
export OMP_NUM_THREADS=1
one() {
  algo=$1; k=$2; out=runs/sinusoid/$algo-k$k
  lr=(--inner-lr 0.01)
  [ "$algo" = reptile ] && lr=()
  metaopt train --algorithm "$algo" --benchmark sinusoid --shots "$k" --queries 10 --iterations "$ITER" \
    --meta-batch 25 "${lr[@]}" --val-every 500 --val-tasks 100 --seed 0 --out "$out" --no-progress --json >/dev/null
  for s in 1 10; do
    metaopt evaluate --checkpoint "$out" --tasks 600 --steps "$s" --no-progress --json | tail -n 1 \
      > "$out/eval-steps$s.json"
  done
  echo "$algo K=$k done"
}
export -f one
export ITER
for algo in maml fomaml anil metasgd mamlpp metacurvature reptile taml; do
  for k in 5 10; do echo "$algo $k"; done
done | xargs -P "$PAR" -n 2 bash -c 'one "$@"' _
