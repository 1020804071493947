#!/usr/bin/env bash
# LJSpeech TTS: Kaldi data dirs from a local LJSpeech-1.1 copy (--corpus in prepare_args or $LJSPEECH), train
# F5-TTS, synthesize held-out sentences prompted by other LJ utterances, score them (mel L1 after DTW, WER)
# against the untrained model, the vocoder ceiling and the recordings, and pack the model.
# Usage: ./run.sh [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.tts --config conf/recipe.yaml "$@"
