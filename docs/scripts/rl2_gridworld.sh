#!/usr/bin/env bash
# RL^2 on the hidden-goal grid world next to random play and search-then-shuttle (docs/results.md, issue #7).
# Usage: bash docs/scripts/rl2_gridworld.sh SIDE HORIZON ITERATIONS [extra `metaopt train` args...]
# Trains runs/rl2/gridworld-sSIDE-hHORIZON (re-running resumes), then writes its compare.json:
# regret against the oracle that knows the goal, on 1,000 fixed test grid worlds, for every method.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
s=$1; h=$2; iters=$3; shift 3
out=runs/rl2/gridworld-s$s-h$h
nice -n 10 metaopt train --algorithm rl2 --benchmark gridworld --ways "$s" --shots "$h" --iterations "$iters" \
  --meta-batch 32 --outer-lr 0.003 --grad-clip 1.0 --val-every 100 --val-tasks 200 --test-tasks 1000 \
  --out "$out" --no-progress --json "$@" | tail -n 1 > "$out.train.json"
nice -n 10 metaopt rl-compare --benchmark gridworld --ways "$s" --shots "$h" --tasks 1000 --checkpoint "$out" \
  --no-progress --json | tail -n 1 > "$out/compare.json"
cat "$out/compare.json"
