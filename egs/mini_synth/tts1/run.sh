#!/usr/bin/env bash
# mini_synth TTS: build the synthetic multi-voice corpus, train a small F5-TTS, synthesize held-out sentences in
# held-out voices, score them (mel L1 after DTW, pocketsphinx WER) against the untrained model, the vocoder
# ceiling and the real recordings, and pack the model.
# Usage: ./run.sh [--config conf/recipe_debug.yaml] [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.tts --config conf/recipe.yaml "$@"
