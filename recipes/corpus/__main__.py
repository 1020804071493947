"""``python -m recipes.corpus``: run the corpus pipeline."""

from audiokit.recipe import main
from recipes.corpus import RECIPE

if __name__ == "__main__":
    raise SystemExit(main(RECIPE))
