"""``python -m recipes.codec``: run the codec pipeline."""

from audiokit.recipe import main
from recipes.codec import RECIPE

if __name__ == "__main__":
    raise SystemExit(main(RECIPE))
