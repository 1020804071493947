#!/usr/bin/env bash
# mini_synth corpus: build the offline corpus into data/, validate it, write exp/<tag>/corpus_stats.md.
# Usage: ./run.sh [--config conf/recipe_debug.yaml] [--stage N] [--stop-stage M] [--stages NAME ...]
#                 [--dry-run] [--force] [--workdir DIR] [key=value ...]      (see README.md)
set -euo pipefail
cd "$(dirname "$0")"
# recipes/ is not pip-installed: put the repository root (three levels up) on the import path.
export PYTHONPATH="$(cd ../../.. && pwd)${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m recipes.corpus --config conf/recipe.yaml "$@"
