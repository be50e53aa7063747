#!/usr/bin/env bash
# RL^2 on Bernoulli bandits next to UCB1 / Thompson sampling / random (docs/results/rl.md, issue #7).
# Usage: bash docs/scripts/rl2_bandits.sh ARMS HORIZON ITERATIONS [extra `metaopt train` args...]
# Trains runs/rl2/bandit-kARMS-hHORIZON (re-running resumes), then writes
# runs/rl2/bandit-kARMS-hHORIZON/compare.json: regret on 1,000 fixed test bandits for every method.
# Extra args come after the defaults, so they override them (e.g. --outer-lr 0.01 --param entropy=0.1,
# the long-horizon settings in docs/results/rl.md).
set -euo pipefail
exec bash "$(dirname "$0")/rl2_run.sh" bandit "bandit-k$1-h$2" "$@"
