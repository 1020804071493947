"""``python -m recipes.asr``: run the ASR pipeline."""

from audiokit.recipe import main
from recipes.asr import RECIPE

if __name__ == "__main__":
    raise SystemExit(main(RECIPE))
