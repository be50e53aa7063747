#!/usr/bin/env bash
# Issue #12's glyph runs on the CPU, for when no GPU is lent (docs/scripts/gpu_issue12.sh is the GPU version):
#   1. 20-way 1-shot at the 5-way budget (600 x 8), the eight optimisation learners, batched engine
#   2. training time against the old engine: per learner, 50 iterations of 1.'s 20-way run on the batched engine
#      and then on the higher engine, back to back in one job (two such jobs side by side), so both engines of a
#      pair run on the same machine under the same load; their train_seconds give the ratio
#   3. 5-way 1-shot, 600 x 8, training seeds 0, 1 and 2 on the batched engine (the glyph table's column is seed
#      0 on the old engine, without per-task scores), for the spread across seeds
# Each finished run lands in docs/glyphs/NAME.json (per-task test accuracies, its training summary under "train";
# the timing runs in docs/glyphs/timing/); commit those as they come. Runs found there are skipped and unfinished
# ones resume from their checkpoints in runs/glyphs, so starting this again after a stop picks up where it left
# off. Two runs at a time, one thread each, nice 19; about 14 CPU-hours in all. `issue12_table.py` prints the
# tables.
#   nohup bash docs/scripts/issue12_cpu.sh >> issue12.log 2>&1 &
# Arguments pick and order the parts (default: 20way pairs seeds), e.g. `issue12_cpu.sh pairs seeds 20way` runs
# the short jobs first, so that a session too short for a 20-way run still finishes and commits something.
set -uo pipefail
cd "$(dirname "$0")/../.."
export KEEP=docs/glyphs ENGINE=batched
source docs/scripts/glyph_settings.sh
glyphs() { nice -n 19 bash docs/scripts/glyphs.sh "$@"; }
export -f glyphs
pair() {  # the timing pair of one learner
  for engine in batched higher; do
    KEEP=docs/glyphs/timing ENGINE=$engine TEST=1 TAG=-i50-$engine glyphs 20 1 50 8 1 "$1"
  done
}
export -f pair
parts=("$@"); [ $# -gt 0 ] || parts=(20way pairs seeds)
for part in "${parts[@]}"; do  # a typo fails before anything starts
  case $part in 20way|pairs|seeds) ;; *) echo "issue12_cpu.sh: unknown part '$part' (20way, pairs or seeds)" >&2; exit 2 ;; esac
done
for part in "${parts[@]}"; do
  case $part in
    20way) TAG=-600x8 glyphs 20 1 600 8 2 ;;
    pairs) printf '%s\n' $GLYPH_ALGOS | xargs -P 2 -I{} bash -c 'pair {}' ;;
    seeds) for seed in 0 1 2; do SEED=$seed TAG=-s$seed glyphs 5 1 600 8 2; done ;;
  esac
done
