"""``python -m recipes.tts``: run the TTS pipeline."""

from audiokit.recipe import main
from recipes.tts import RECIPE

if __name__ == "__main__":
    raise SystemExit(main(RECIPE))
