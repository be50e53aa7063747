#!/usr/bin/env bash
# RL^2 on Bernoulli bandits next to UCB1 / Thompson sampling / random (docs/results.md, issue #7).
# Usage: bash docs/scripts/rl2_bandits.sh ARMS HORIZON ITERATIONS [extra `metaopt train` args...]
# Trains runs/rl2/bandit-kARMS-hHORIZON (re-running resumes), then writes
# runs/rl2/bandit-kARMS-hHORIZON/compare.json: regret on 1,000 fixed test bandits for every method.
# Extra args come after the defaults, so they override them (e.g. --outer-lr 0.01 --param entropy=0.1,
# the long-horizon settings in docs/results.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
k=$1; h=$2; iters=$3; shift 3
out=runs/rl2/bandit-k$k-h$h
nice -n 10 metaopt train --algorithm rl2 --benchmark bandit --ways "$k" --shots "$h" --iterations "$iters" \
  --meta-batch 32 --outer-lr 0.003 --grad-clip 1.0 --val-every 100 --val-tasks 200 --test-tasks 1000 \
  --out "$out" --no-progress --json "$@" | tail -n 1 > "$out.train.json"
nice -n 10 metaopt rl-compare --benchmark bandit --ways "$k" --shots "$h" --tasks 1000 --checkpoint "$out" \
  --no-progress --json | tail -n 1 > "$out/compare.json"
cat "$out/compare.json"
