"""Task pipelines run by the thin recipe dirs ``egs/<corpus>/<task>1/run.sh``.

Each sub-package (``recipes.corpus``, later ``recipes.asr``, ``recipes.tts``, ...) builds an
:class:`audiokit.recipe.Recipe` and is run as ``python -m recipes.<task> --config ...``.

``recipes`` is not installed with audiokit (pyproject only packages ``audiokit*``): it is
importable because ``run.sh`` puts the repository root (``../../..`` from the recipe dir)
on ``PYTHONPATH``. Pipelines hold only stage wiring; the work itself is done by audiokit.
"""
