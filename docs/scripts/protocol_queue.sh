#!/usr/bin/env bash
# Runs what is left of issue #13's protocol in the background, two families at a time (one CPU thread each,
# nice 19), SmolLM2 first, then Gemma-3-270M at k = 4. Every run resumes per task, so starting this again after
# a stop picks up where it left off. Pause it for timings with `pkill -STOP -f prompt_protocol.py` (-CONT to go on).
#   nohup bash docs/scripts/protocol_queue.sh >> protocol.log 2>&1 &
set -uo pipefail
cd "$(dirname "$0")/../.."
run() { nice -n 19 python3 docs/scripts/prompt_protocol.py --threads 1 --jobs 1 "$@"; }
export -f run
printf '%s\n' \
  "--families chatterbot --out docs/prompt_protocol" \
  "--families fortunes --out docs/prompt_protocol" \
  "--families wordnet --model gemma3 --subset 0 --no-protonet --out docs/prompt_protocol_gemma3" \
  "--families chatterbot --model gemma3 --subset 0 --no-protonet --out docs/prompt_protocol_gemma3" \
  "--families fortunes --model gemma3 --subset 0 --no-protonet --out docs/prompt_protocol_gemma3" \
  | xargs -P 2 -I{} bash -c 'run {}'
