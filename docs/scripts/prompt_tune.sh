#!/usr/bin/env bash
# Issue #6: tune the learned selector's hyperparameters on WordNet validation classes (10 trials x 8 validation
# tasks), then score the best point and the defaults on the same 20 held-out test tasks. See docs/results/prompt-families.md.
# Re-running it resumes the study (and re-prints the stored result); extra arguments go to the command.
set -euo pipefail
mkdir -p runs/prompt6-tune
OMP_NUM_THREADS=1 nice -n 10 metaopt prompt tune --family wordnet --selector learned --trials 10 \
  --tasks 4 --test-tasks 10 --seed 0 --seeds 2 --ways 4 --pool 8 --queries 2 --param train_queries=4 \
  --dtype bfloat16 --storage sqlite:///runs/prompt6-tune/optuna.db \
  --tracking-uri sqlite:///runs/prompt6-tune/mlflow.db --json "$@"
# Context on the same 20 test tasks and queries (compare draws tasks exactly as the tuner's test step does):
# OMP_NUM_THREADS=1 nice -n 10 metaopt prompt compare --family wordnet --selectors zero,random,knn,bm25 --shots 4 \
#   --tasks 10 --seed 0 --seeds 2 --ways 4 --pool 8 --queries 2 --dtype bfloat16 --no-protonet \
#   --tracking-uri sqlite:///runs/prompt6-tune/mlflow.db --out runs/prompt6-tune/baselines.json
