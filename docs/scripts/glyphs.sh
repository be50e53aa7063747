#!/usr/bin/env bash
# Glyph table of docs/results/suite.md: optimisation-based learners on glyphs N-way K-shot, evaluated on
# the same 600 fixed meta-test tasks (5 query images per class, disjoint test alphabets).
# Usage: bash docs/scripts/glyphs.sh WAYS SHOTS ITERATIONS META_BATCH PARALLEL [ALGORITHM ...]
# Environment: SEED (training seed, default 0), ENGINE (auto | batched | higher, default auto), TEST (meta-test
# tasks, default 600; fewer only for timing runs), TAG (appended to each run's folder name, default none), KEEP
# (a folder, e.g. docs/glyphs: each finished run's 600 per-task test accuracies and its training summary go
# there as one NAME.json, to be committed; default none). A run whose
# summary (runs/glyphs/NAME.json, or KEEP/NAME.json) exists is skipped, an unfinished one resumes from its
# checkpoint, and each finished run's 600 per-task test accuracies are written to runs/glyphs/NAME.scores.json
# (`metaopt train --scores`).
# Learners and inner-loop settings (the MAML paper's Omniglot protocol): glyph_settings.sh.
set -euo pipefail
source "$(dirname "$0")/glyph_settings.sh"
WAYS=$1; SHOTS=$2; ITER=$3; MB=$4; PAR=$5; shift 5
ALGOS=${*:-$GLYPH_ALGOS}
SEED=${SEED:-0}; ENGINE=${ENGINE:-auto}; TEST=${TEST:-600}; TAG=${TAG:-}; KEEP=${KEEP:-}
export WAYS SHOTS ITER MB SEED ENGINE TEST TAG KEEP OMP_NUM_THREADS=1
mkdir -p runs/glyphs
one() {
  algo=$1; name=$algo-${WAYS}w${SHOTS}s$TAG; out=runs/glyphs/$name
  { [ -n "$KEEP" ] && [ -s "$KEEP/$name.json" ]; } || { [ -s "$out.json" ] && [ -s "$out.scores.json" ]; } \
    && { echo "$name already done"; keep; return 0; }
  glyph_inner "$algo" "$WAYS"
  metaopt train --algorithm "$algo" --benchmark glyphs --ways "$WAYS" --shots "$SHOTS" --queries 5 \
    --iterations "$ITER" --meta-batch "$MB" "${inner[@]}" --val-every 100 --val-tasks 100 \
    --test-tasks "$TEST" --scores "$out.scores.json" --seed "$SEED" --engine "$ENGINE" --out "$out" --no-progress \
    --json >> "$out.log" || { echo "$algo ${WAYS}w${SHOTS}s$TAG FAILED (see $out.log)"; return 1; }
  tail -n 1 "$out.log" > "$out.json"
  echo "$algo ${WAYS}w${SHOTS}s$TAG done"
  keep
}
# the run's scores with its training summary under "train", as one small file a later machine still has
keep() {
  [ -n "$KEEP" ] && [ ! -s "$KEEP/$name.json" ] || return 0
  mkdir -p "$KEEP"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d["train"] = json.load(open(sys.argv[2]))
json.dump(d, open(sys.argv[3], "w"), indent=1)' "$out.scores.json" "$out.json" "$KEEP/$name.json"
}
export -f one keep
printf '%s\n' $ALGOS | xargs -P "$PAR" -I{} bash -c 'one {}'
