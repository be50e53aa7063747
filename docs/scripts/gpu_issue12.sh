#!/usr/bin/env bash
# Issue #12's GPU work as one command, sized for one lent H200 (about 10 minutes in all):
#   1. benchmarks/engine_speed.py on the GPU: Conv4 5-way 1-shot meta-batch 32 and 20-way 1-shot meta-batch 4
#      and 16 (the issue's ">= 3x" targets), sinusoids, with the --compile side      -> OUT/engine_speed.jsonl
#   2. glyphs 20-way 1-shot at the 5-way budget (600 x 8), the eight optimisation learners at once on the GPU,
#      batched engine, with each run's 600 test scores                             -> OUT/glyphs_20w1s.jsonl
#   3. the same eight on the higher engine for HIGHER_ITER iterations: training seconds per iteration against 2.
#                                                                                   -> OUT/glyphs_20w1s_higher.jsonl
#   4. glyphs 5-way 1-shot, 600 x 8, training seeds 1 and 2 (seed 0 is on the page) -> OUT/glyphs_5w1s_seeds.jsonl
#   Per-task test scores of 2., 3. and 4. -> OUT/scores.json ({run: [600 scores]}); everything printed -> OUT/log.txt
# Each step has its own time limit, so a slow step leaves the rest their time and partial results come back;
# runs resume from their checkpoints in RUNS, so calling again on a warm machine continues them. A device call
# may run 600 s: STEPS="1 2 3" (about 510 s at most) in one call, then STEPS=4 (about 250 s) in the next.
# The machine has no Noto fonts: GLYPHS names the built set copied from this machine's cache (~/.cache/metaopt).
#
# With the `device` tool: the machine's python3 has torch but not `higher`, and no fonts; carry both in .gpu/:
#   echo /.gpu/ >> .git/info/exclude; mkdir -p .gpu; cp ~/.cache/metaopt/glyphs-v1-45a2d8cc941a5f97.npz .gpu/
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .gpu higher==0.2.1
#   run(carry=[".gpu"], timeout_s=600, command="python3 -m pip install -q --no-index --no-deps --target /tmp/site
#       .gpu/*.whl && export PYTHONPATH=/tmp/site && OUT=$OUT GLYPHS=.gpu/glyphs-v1-45a2d8cc941a5f97.npz
#       STEPS='1 2 3' bash docs/scripts/gpu_issue12.sh"), then the same with STEPS=4 while the machine is warm.
#   OUT=$OUT GLYPHS=.gpu/glyphs-v1-45a2d8cc941a5f97.npz bash docs/scripts/gpu_issue12.sh           # on the GPU
#   QUICK=1 DEVICE=cpu OUT=/tmp/gpu12 GLYPHS=~/.cache/metaopt/glyphs-v1-45a2d8cc941a5f97.npz \
#     bash docs/scripts/gpu_issue12.sh                                                              # a dry run
set -uo pipefail
OUT=${OUT:-runs/gpu12}; DEVICE=${DEVICE:-cuda}; QUICK=${QUICK:-0}; GLYPHS=${GLYPHS:?GLYPHS=path/to/glyphs-v1-*.npz}
RUNS=${RUNS:-runs/gpu12-runs}; HIGHER_ITER=${HIGHER_ITER:-50}; STEPS=${STEPS:-1 2 3 4}
source "$(dirname "$0")/glyph_settings.sh"  # the learners and their inner loops, as on the CPU
ALGOS=${ALGOS:-$GLYPH_ALGOS}
mkdir -p "$OUT" "$RUNS"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
if [ "$QUICK" = 1 ]; then
  ITER=2; MB=2; VAL=5; TEST=10; HIGHER_ITER=2; LIMIT=300
  SPEED=(--only sinusoid-mb25 --reps 1 --warmup 0); COMPILED=("${SPEED[@]}")
else
  ITER=600; MB=8; VAL=100; TEST=600; LIMIT=120
  SPEED=(--only sinusoid-mb25,conv5-mb32,conv20-mb4,conv20-mb16 --reps 10 --warmup 2)
  COMPILED=(--only sinusoid-mb25,conv5-mb32 --reps 10 --warmup 2)
fi
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }

# One glyph run: train and score the 600 test tasks (train --scores); its summary line goes to the step's JSONL file.
one() {  # algo ways iterations meta-batch seed engine jsonl
  local algo=$1 ways=$2 iter=$3 mb=$4 seed=$5 engine=$6 jsonl=$7 inner
  local out=$RUNS/$algo-${ways}w1s-i$iter-mb$mb-s$seed-$engine
  glyph_inner "$algo" "$ways"
  python -m metaopt train --algorithm "$algo" --benchmark glyphs --data-root "$GLYPHS" --ways "$ways" --shots 1 \
    --queries 5 --iterations "$iter" --meta-batch "$mb" "${inner[@]}" --val-every "$(( iter < 100 ? iter : 100 ))" \
    --val-tasks "$VAL" --test-tasks "$TEST" --scores "$out.scores.json" --seed "$seed" --device "$DEVICE" \
    --engine "$engine" --out "$out" --no-progress --json > "$out.log" 2>&1 \
    || { log "$algo ${ways}w1s seed $seed $engine FAILED: $(tail -n 1 "$out.log")"; return 0; }
  tail -n 1 "$out.log" >> "$jsonl"
  log "$algo ${ways}w1s seed $seed $engine done"
}
export -f one log; export OUT RUNS DEVICE GLYPHS VAL TEST

log "device: $(python -c 'import torch; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu")')"
step() { [[ " $STEPS " == *" $1 "* ]]; }
if step 1; then
log "1. engine speed"
timeout $(( LIMIT * 3 / 4 )) python benchmarks/engine_speed.py --device "$DEVICE" --threads 2 "${SPEED[@]}" --json 2>&1 \
  | tee -a "$OUT/log.txt" | grep '^{' > "$OUT/engine_speed.jsonl"
timeout $(( LIMIT * 3 / 4 )) python benchmarks/engine_speed.py --device "$DEVICE" --threads 2 "${COMPILED[@]}" --compile --json \
  2>&1 | tee -a "$OUT/log.txt" | grep '^{' >> "$OUT/engine_speed.jsonl"
fi
if step 2; then
log "2. glyphs 20-way 1-shot, $ITER x $MB, batched engine, all learners at once"
printf '%s\n' $ALGOS | timeout $(( 2 * LIMIT )) xargs -P 8 -I{} bash -c \
  "one {} 20 $ITER $MB 0 batched $OUT/glyphs_20w1s.jsonl"
fi
if step 3; then
log "3. the same on the higher engine, $HIGHER_ITER iterations"
printf '%s\n' $ALGOS | timeout $(( LIMIT * 3 / 4 )) xargs -P 8 -I{} bash -c \
  "one {} 20 $HIGHER_ITER $MB 0 higher $OUT/glyphs_20w1s_higher.jsonl"
fi
if step 4; then
log "4. glyphs 5-way 1-shot, $ITER x $MB, seeds 1 and 2"
for seed in 1 2; do for algo in $ALGOS; do echo "$algo $seed"; done; done \
  | timeout $(( 2 * LIMIT )) xargs -P 8 -L 1 bash -c "one \$0 5 $ITER $MB \$1 batched $OUT/glyphs_5w1s_seeds.jsonl"
fi
python - "$RUNS" "$OUT/scores.json" <<'PY'
import json, pathlib, sys
runs = {p.name[: -len(".scores.json")]: json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.scores.json"))}
pathlib.Path(sys.argv[2]).write_text(json.dumps(runs))
print(f"{len(runs)} runs' per-task scores in {sys.argv[2]}")
PY
log "done"
