"""Kaldi-style recipe runner: named, numbered, idempotent and resumable stages.

A task pipeline (``recipes/<task>/``) builds a :class:`Recipe` from :class:`Stage` objects
and calls :func:`main`; ``egs/<corpus>/<task>1/run.sh`` runs that pipeline with the
corpus's ``conf/recipe.yaml``. The parts:

* ``config``: YAML config checked against the recipe defaults, ``key=value`` overrides;
* ``fingerprint``: file/folder fingerprints and the stage hash;
* ``plan``: stage selection and the skip/run decision;
* ``runner``: execution, markers (``exp/<tag>/stages/<name>.json``) and
  ``exp/<tag>/stages.jsonl``;
* ``cli``: the shared command line.

Importing this package does not import torch.
"""

from __future__ import annotations

from audiokit.recipe.cli import main
from audiokit.recipe.plan import Decision, make_plan, select
from audiokit.recipe.runner import RecipeError, run_recipe, stage_minutes
from audiokit.recipe.stage import Recipe, Stage, StageContext

__all__ = ["Decision", "Recipe", "RecipeError", "Stage", "StageContext", "main", "make_plan",
           "run_recipe", "select", "stage_minutes"]
