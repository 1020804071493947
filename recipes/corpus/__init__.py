"""The corpus pipeline: build an offline corpus, validate it, report its statistics.

Stages (``python -m recipes.corpus --help``):

1. ``prepare``  ``python <recipe>/local/prepare.py --out <data_dir> --size ... --seed ...
   --jobs ... --music-songs ...``: writes ``<data_dir>/{train,dev,test}`` (+ ``music``).
   Not cleaned before a rerun: the corpus builder resumes an interrupted build itself
   (finished wavs are complete, they are written atomically). ``jobs`` does not change
   the corpus, so changing it does not rerun the stage.
2. ``validate`` every split with :func:`audiokit.data.validate.validate_data_dir`; the
   report goes to ``exp/<tag>/validate.txt``; any error fails the stage.
3. ``stats``    ``exp/<tag>/corpus_stats.md`` from ``<data_dir>/stats.json``.
"""

from __future__ import annotations

from audiokit.recipe import Recipe, Stage
from recipes.corpus import stages

DEFAULTS = {
    "tag": "corpus",
    "data_dir": "data",
    "size": "default",
    "seed": 0,
    "jobs": 2,
    "music_songs": 20,
}

RECIPE = Recipe(
    name="corpus",
    description="Build an offline corpus into data/, validate it and report its statistics.",
    defaults=DEFAULTS,
    check=stages.check_config,
    stages=[
        Stage(
            name="prepare",
            description="build the corpus with local/prepare.py",
            argv=stages.prepare_argv,
            inputs=["{recipe}/local/prepare.py"],
            outputs=stages.prepare_outputs,
            config_keys=["data_dir", "size", "seed", "music_songs"],
            ignore_args=["--jobs"],
        ),
        Stage(
            name="validate",
            description="validate the Kaldi data dirs",
            func=stages.validate,
            inputs=stages.validate_inputs,
            outputs=["{exp}/validate.txt"],
            config_keys=["data_dir", "music_songs"],
        ),
        Stage(
            name="stats",
            description="write exp/<tag>/corpus_stats.md",
            func=stages.write_corpus_stats,
            inputs=["{data_dir}/stats.json"],
            outputs=["{exp}/corpus_stats.md"],
            fingerprint="content",
        ),
    ],
)
