#!/usr/bin/env bash
# mini_synth codec: build speech + music, train a scaled-down WavTokenizer, score it against the
# untrained model and Codec 2, pack it, round-trip a file through `audiokit encode/decode`.
# Usage: ./run.sh [--config conf/recipe_debug.yaml] [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.codec --config conf/recipe.yaml "$@"
