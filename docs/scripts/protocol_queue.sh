#!/usr/bin/env bash
# Runs what is left of issue #13's protocol in the background, two processes at a time (one CPU thread each,
# nice 19): SmolLM2's fortunes at k = 4 first, its tasks shared by two shards (the targets are judged there),
# then Gemma-3-270M at k = 4 on the three families (two shards each; the second waits
# for the first's meta-training under the family's lock), then fortunes' extra ks on its subset. Every run resumes per
# task, so starting this again after a stop picks up where it left off. Pause it for timings with
# `pkill -STOP -f prompt_protocol.py` (-CONT to go on).
#   nohup bash docs/scripts/protocol_queue.sh >> protocol.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/../.."
run() { nice -n 19 python3 docs/scripts/prompt_protocol.py --threads 1 --jobs 1 "$@"; }
export -f run
shards() {  # one line of arguments per shard of a family: shards FAMILY OPTIONS...
  local family=$1; shift
  for shard in 0/2 1/2; do echo "--families $family $* --shard $shard"; done
}
{
  shards fortunes --k-only --out docs/prompt_protocol
  for family in wordnet chatterbot fortunes; do
    shards "$family" --model gemma3 --subset 0 --no-protonet --out docs/prompt_protocol_gemma3
  done
  shards fortunes --out docs/prompt_protocol
} | xargs -P 2 -I{} bash -c 'run {}'
