#!/usr/bin/env bash
# Issue #6 results: every example selector at k = 1, 2, 4, 8 on held-out tasks of two families,
# SmolLM2-135M-Instruct (bfloat16 on CPU), 5 seeds x 1 task x 4 classes x 2 queries per class, sized to the
# CPU this shared machine could give (about 1/6 of a core per job while it ran).
# One family per process, one core each; MLflow runs land in runs/prompt6/mlflow.db.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p runs/prompt6
export OMP_NUM_THREADS=1
COMMON="--selectors zero,random,knn,bm25,learned,meta --shots 1,2,4,8 --tasks 1 --seed 0 --seeds 5 --ways 4
  --pool 8 --queries 2 --dtype bfloat16 --param num_candidates=4 --param train_queries=8 --param meta_tasks=3
  --tracking-uri sqlite:///runs/prompt6/mlflow.db"
for family in ${@:-wordnet chatterbot}; do
  # shellcheck disable=SC2086
  nice -n 5 metaopt prompt compare --family "$family" $COMMON --out "runs/prompt6/$family.json" \
    > "runs/prompt6/$family.log" 2>&1 &
done
wait
