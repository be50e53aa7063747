#!/usr/bin/env bash
# Issue #32's protocol on the standard ICL sets (SST-2, AGNews, TREC, RTE from ../shared/data/icl): every
# selector with and without contextual calibration at k = 4 on 5 seeds x 300 test queries, then k = 0, 1, 8 on
# 2 seeds; per-query predictions in docs/prompt_icl/MODEL/DATASET-k4.json and -k018.json. Each run keeps its
# result after every selector of every seed (--resume), so starting this again after a stop picks up where it
# left off; a finished file is a no-op.
#   nohup bash docs/scripts/icl_protocol.sh smollm2 "sst2 agnews" >> icl.log 2>&1 &     # one lane, one core
#   nohup bash docs/scripts/icl_protocol.sh smollm2 "trec rte" >> icl.log 2>&1 &         # the second lane
#   DEVICE=cuda bash docs/scripts/icl_protocol.sh gemma3 "sst2 agnews trec rte"         # on a lent GPU
# Then `python docs/scripts/icl_table.py docs/prompt_icl/MODEL` prints the tables of the results page.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:-smollm2}
datasets=${2:-"sst2 agnews trec rte"}
root=${DATA_ROOT:-../shared/data/icl}
out=docs/prompt_icl/$model
mkdir -p "$out"
run() {  # run DATASET SUFFIX ARGS...
  local dataset=$1 suffix=$2; shift 2
  nice -n 19 python3 -m metaopt prompt compare --dataset "$dataset" --data-root "$root" --model "$model" \
    --device "${DEVICE:-cpu}" --calibration both --no-track --no-progress --out "$out/$dataset-$suffix.json" \
    --resume "$@" | tail -n 1
}
all=zero,random,knn,balanced_knn,bm25,bootstrap,learned,meta
# k = 4 on two seeds of every dataset first, then the same runs grown to five seeds (--resume adds seeds after
# the saved ones), then k = 0, 1, 8: a stop at any point leaves the most comparable table it can.
for seeds in 2 5; do
  for dataset in $datasets; do
    echo "== $(date -u +%FT%TZ) $model $dataset k=4 seeds=$seeds"
    run "$dataset" k4 --shots 4 --seeds "$seeds" --selectors "$all"
  done
done
for dataset in $datasets; do
  echo "== $(date -u +%FT%TZ) $model $dataset k=0,1,8"
  run "$dataset" k018 --shots 0,1,8 --seeds 2 --selectors "$all"
done
