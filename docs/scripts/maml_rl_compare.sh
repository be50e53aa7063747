#!/usr/bin/env bash
# MAML-RL against RL^2 and the hand-made baselines on the same fixed test tasks (issue #16), via rl-compare.
# Usage: bash docs/scripts/maml_rl_compare.sh BENCHMARK SIZE HORIZON MAML_ITERATIONS RL2_ITERATIONS [TASKS]
#   full:  bash docs/scripts/maml_rl_compare.sh bandit 5 10 500 2000 1000
#          bash docs/scripts/maml_rl_compare.sh gridworld 5 50 500 3000 1000
# Trains runs/maml-rl-compare/BENCH-SIZE-HORIZON/{maml-rl,rl2} (re-running resumes), then writes compare.json
# there. MAML-RL's regret is that of its adapted policy's trials; its adaptation played `inner_steps x episodes`
# further trials of each task first (the row's name says how many), which RL^2 and the baselines do not get.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
bench=$1; size=$2; h=$3; maml_iters=$4; rl2_iters=$5; tasks=${6:-1000}
out=runs/maml-rl-compare/$bench-$size-$h
mkdir -p "$out"
python -m metaopt train --algorithm maml-rl --benchmark "$bench" --ways "$size" --shots "$h" \
  --iterations "$maml_iters" --meta-batch 20 --outer-lr 0.01 --val-every $(( (maml_iters + 4) / 5 )) \
  --val-tasks 50 --test-tasks 100 --out "$out/maml-rl" --no-progress --json | tail -n 1 > "$out/maml-rl.train.json"
python -m metaopt train --algorithm rl2 --benchmark "$bench" --ways "$size" --shots "$h" --iterations "$rl2_iters" \
  --meta-batch 32 --outer-lr 0.003 --grad-clip 1.0 --val-every $(( (rl2_iters + 4) / 5 )) --val-tasks 200 \
  --test-tasks 100 --out "$out/rl2" --no-progress --json | tail -n 1 > "$out/rl2.train.json"
python -m metaopt rl-compare --benchmark "$bench" --ways "$size" --shots "$h" --tasks "$tasks" \
  --checkpoint "$out/maml-rl" --checkpoint "$out/rl2" --no-progress --json | tee "$out/compare.txt" | tail -n 1 \
  > "$out/compare.json"
cat "$out/compare.txt"
