#!/usr/bin/env bash
# RL^2 on the hidden-goal grid world next to random play and search-then-shuttle (docs/results/rl.md, issue #7).
# Usage: bash docs/scripts/rl2_gridworld.sh SIDE HORIZON ITERATIONS [extra `metaopt train` args...]
# Trains runs/rl2/gridworld-sSIDE-hHORIZON (re-running resumes), then writes its compare.json:
# regret against the oracle that knows the goal, on 1,000 fixed test grid worlds, for every method.
set -euo pipefail
exec bash "$(dirname "$0")/rl2_run.sh" gridworld "gridworld-s$1-h$2" "$@"
