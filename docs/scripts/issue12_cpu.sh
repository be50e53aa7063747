#!/usr/bin/env bash
# Issue #12's glyph runs on the CPU, for when no GPU is lent (docs/scripts/gpu_issue12.sh is the GPU version):
#   1. 20-way 1-shot at the 5-way budget (600 x 8), the eight optimisation learners, batched engine
#   2. 5-way 1-shot, 600 x 8, training seeds 1 and 2 (seed 0 is the glyph table's column), batched engine
#   3. the 20-way runs again on the higher engine for 50 iterations: its training seconds per iteration
#      against 1.'s, both measured with a run of this queue on the other core
# Each finished run lands in docs/glyphs/NAME.json (600 per-task test accuracies, its training summary under
# "train"); commit those as they come. Runs found there are skipped and unfinished ones resume from their
# checkpoints in runs/glyphs, so starting this again after a stop picks up where it left off. Two runs at a
# time, one thread each, nice 19; about 12 CPU-hours in all.
#   nohup bash docs/scripts/issue12_cpu.sh >> issue12.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/../.."
export KEEP=docs/glyphs ENGINE=batched
glyphs() { nice -n 19 bash docs/scripts/glyphs.sh "$@"; }
TAG=-600x8 glyphs 20 1 600 8 2
SEED=1 TAG=-s1 glyphs 5 1 600 8 2
SEED=2 TAG=-s2 glyphs 5 1 600 8 2
ENGINE=higher TAG=-higher-i50 glyphs 20 1 50 8 2
