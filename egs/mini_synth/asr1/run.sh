#!/usr/bin/env bash
# mini_synth ASR: build the synthetic corpus, train a tokenizer and a cache-aware streaming
# FastConformer (hybrid RNN-T + CTC), decode the held-out voices streaming and offline, score
# against pocketsphinx, pack the model for `audiokit transcribe`.
# Usage: ./run.sh [--config conf/recipe_debug.yaml] [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.asr --config conf/recipe.yaml "$@"
