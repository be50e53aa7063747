#!/usr/bin/env bash
# Metric-learner glyph table of docs/results/suite.md (issue #3): ProtoNets, Matching, Relation and
# Siamese Networks on glyphs N-way K-shot, scored on the same 600 fixed meta-test tasks as the
# optimisation-based learners (5 query images per class, disjoint test alphabets).
# Usage: bash docs/scripts/glyphs_metric.sh WAYS SHOTS ITERATIONS META_BATCH [ALGORITHM ...]
# Runs one training at a time (nice 5, one thread). Each learner uses its defaults; extra
# learner options can be given as ALGO:KEY=VALUE,... (e.g. matching:fce=true writes matching_fce-*).
set -euo pipefail
WAYS=$1; SHOTS=$2; ITER=$3; MB=$4; shift 4
ALGOS=${*:-protonet matching relation siamese}
export OMP_NUM_THREADS=1
mkdir -p runs/glyphs
status=0
for spec in $ALGOS; do
  algo=${spec%%:*}; name=$algo; params=()
  if [ "$spec" != "$algo" ]; then
    for kv in $(echo "${spec#*:}" | tr ',' ' '); do params+=(--param "$kv"); name="${name}_${kv%%=*}"; done
  fi
  out=runs/glyphs/$name-${WAYS}w${SHOTS}s
  if nice -n 5 metaopt train --algorithm "$algo" --benchmark glyphs --ways "$WAYS" --shots "$SHOTS" --queries 5 \
      --iterations "$ITER" --meta-batch "$MB" "${params[@]}" --val-every 100 --val-tasks 100 \
      --test-tasks 600 --seed 0 --out "$out" --no-progress --json > "$out.log"; then
    tail -n 1 "$out.log" > "$out.json"
    echo "$name ${WAYS}w${SHOTS}s done"
  else
    echo "$name ${WAYS}w${SHOTS}s FAILED (see $out.log)"; status=1
  fi
done
exit $status
