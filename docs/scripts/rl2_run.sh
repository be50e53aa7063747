#!/usr/bin/env bash
# Train RL^2 on an RL benchmark, then compare it with the benchmark's baselines (rl2_bandits.sh and
# rl2_gridworld.sh call this). Usage: bash docs/scripts/rl2_run.sh BENCHMARK NAME SIZE HORIZON ITERATIONS [extra args]
# Trains runs/rl2/NAME (re-running resumes), then writes runs/rl2/NAME/compare.json: regret on 1,000 fixed
# test tasks for every method. Extra args come after the defaults, so they override them.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
bench=$1; name=$2; size=$3; h=$4; iters=$5; shift 5
out=runs/rl2/$name
nice -n 10 metaopt train --algorithm rl2 --benchmark "$bench" --ways "$size" --shots "$h" --iterations "$iters" \
  --meta-batch 32 --outer-lr 0.003 --grad-clip 1.0 --val-every 100 --val-tasks 200 --test-tasks 1000 \
  --out "$out" --no-progress --json "$@" | tail -n 1 > "$out.train.json"
nice -n 10 metaopt rl-compare --benchmark "$bench" --ways "$size" --shots "$h" --tasks 1000 --checkpoint "$out" \
  --no-progress --json | tail -n 1 > "$out/compare.json"
cat "$out/compare.json"
