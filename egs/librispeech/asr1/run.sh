#!/usr/bin/env bash
# LibriSpeech ASR: Kaldi data dirs from a local LibriSpeech copy (corpus=DIR or $LIBRISPEECH),
# a 1024-piece BPE tokenizer, the released-size cache-aware FastConformer, streaming + offline
# decoding of test-clean/test-other scored beside pocketsphinx, a packed model (GPU scale).
# Usage: ./run.sh [--config conf/recipe_debug.yaml] [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.asr --config conf/recipe.yaml "$@"
