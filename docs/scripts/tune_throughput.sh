#!/usr/bin/env bash
# Issue #4: study throughput (trials per minute) with 1 and 2 worker processes on one machine.
# Usage: bash docs/scripts/tune_throughput.sh [TRIALS] [ITERATIONS]   (defaults 8 and 100)
# Trials/min = finished trials / (last trial end - first trial start), read from the Optuna storage,
# so start-up and the final test evaluation are excluded.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRIALS=${1:-8}; ITERS=${2:-100}; OUT=runs/tune-throughput
mkdir -p "$OUT"
export PYTHONPATH="docs/scripts${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for W in 1 2; do
  nice -n 5 python3 -m metaopt tune --benchmark sinusoid --shots 5 --algorithms tune_spaces:equal_cost \
    --trials "$TRIALS" --iterations "$ITERS" --pruner none --sampler random --workers "$W" --study "throughput-w$W" \
    --storage "sqlite:///$OUT/optuna.db" --tracking-uri "sqlite:///$OUT/mlflow.db" --no-progress --json \
    > "$OUT/w$W.log" 2>&1
done
python3 - "$OUT" <<'PY'
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
out = sys.argv[1]
print("| workers | trials | wall time of the trials | trials/min |\n|---|---|---|---|")
for w in (1, 2):
    trials = [t for t in optuna.load_study(study_name=f"throughput-w{w}", storage=f"sqlite:///{out}/optuna.db").trials
              if t.datetime_complete is not None]
    span = (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()
    print(f"| {w} | {len(trials)} | {span / 60:.1f} min | {len(trials) / (span / 60):.2f} |")
PY
