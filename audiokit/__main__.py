"""``python -m audiokit`` is the same as the ``audiokit`` console script."""

from audiokit.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
