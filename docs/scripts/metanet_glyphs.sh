#!/usr/bin/env bash
# Meta Networks (issue #16) on the glyph table's three cells, same 600 fixed meta-test tasks and protocol
# as glyphs_model.sh (5 query images per class, validation on 100 fixed tasks every 100 iterations).
# Budgets are the SNAIL row's (docs/results/model-based.md, issue #3), so the two model-based rows compare at equal
# episodes. Needs the glyph cache (built by the first glyph run; minutes of CPU).
# Usage: bash docs/scripts/metanet_glyphs.sh            # all three cells, one after the other
set -euo pipefail
cd "$(dirname "$0")/../.."
bash docs/scripts/glyphs_model.sh metanet 5 1 200 8
bash docs/scripts/glyphs_model.sh metanet 5 5 100 8
bash docs/scripts/glyphs_model.sh metanet 20 1 100 4
python docs/scripts/collect.py
