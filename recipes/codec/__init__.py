"""The codec pipeline: corpus, training, scoring against baselines, packing, CLI round trip.

Stages (``python -m recipes.codec --help``):

1. ``prepare``   ``python <recipe>/local/prepare.py --out <data_dir> ...``: speech
   ``{train,dev,test}`` (test voices held out) and music ``music_{train,test}``.
2. ``validate``  every data dir (``audiokit.data.validate``); report ``exp/<tag>/validate.txt``.
3. ``train``     ``python -m audiokit train --config <repo>/<train_config> exp_dir=exp/<tag>/train
   seed=<seed> data.train_dirs=[<data>/train,<data>/music_train] data.val_dirs=[<data>/dev]
   <train_overrides...>``; a killed run resumes from ``exp/<tag>/train/checkpoints/last.ckpt``.
4. ``score``     the trained codec (``last.ckpt``), the same codec untrained (same config and
   seed, no training) and the Codec 2 baseline(s) on the held-out test voices and music:
   ``exp/<tag>/RESULTS.md`` and ``exp/<tag>/scores.json``.
5. ``pack``      ``audiokit.checkpoint.save_pretrained`` into ``exp/<tag>/packed/``.
6. ``roundtrip`` ``audiokit encode`` + ``audiokit decode`` of one test file with the packed
   model; ``exp/<tag>/roundtrip.txt``.
"""

from __future__ import annotations

from audiokit.recipe import Recipe, Stage
from recipes.codec import stages

DEFAULTS = {
    "tag": "codec",
    "data_dir": "data",
    "size": "default",
    "seed": 0,
    "jobs": 2,
    "music_songs": 24,
    "music_test_songs": 4,
    "train_config": "configs/codec/train_wavtokenizer_mini.yaml",
    "train_overrides": [],
    "score_max_utts": 100,
    "score_max_seconds": 10.0,
    "baseline": "codec2",
    "codec2_modes": ["700C", "1200"],
}

RECIPE = Recipe(
    name="codec",
    description="Train a neural codec on an offline corpus, score it against baselines and pack it.",
    defaults=DEFAULTS,
    check=stages.check_config,
    stages=[
        Stage(name="prepare", description="build speech + music with local/prepare.py",
              argv=stages.prepare_argv, inputs=["{recipe}/local/prepare.py"], outputs=stages.prepare_outputs,
              config_keys=["data_dir", "size", "seed", "music_songs", "music_test_songs"],
              ignore_args=["--jobs"]),
        Stage(name="validate", description="validate the Kaldi data dirs", func=stages.validate,
              inputs=stages.data_inputs, outputs=["{exp}/validate.txt"], config_keys=["data_dir"]),
        Stage(name="train", description="audiokit train (resumes after a kill)", argv=stages.train_argv,
              inputs=stages.train_inputs, outputs=["{exp}/train/checkpoints/last.ckpt"],
              config_keys=["train_config", "train_overrides", "seed"]),
        Stage(name="score", description="score trained / untrained / baseline codecs -> RESULTS.md",
              func=stages.score, inputs=stages.score_inputs,
              outputs=["{exp}/RESULTS.md", "{exp}/scores.json"],
              config_keys=["score_max_utts", "score_max_seconds", "baseline", "codec2_modes", "seed",
                           "train_config"]),
        Stage(name="pack", description="save the trained codec to exp/<tag>/packed", func=stages.pack,
              inputs=["{exp}/train/checkpoints/last.ckpt"], outputs=["{exp}/packed"]),
        Stage(name="roundtrip", description="audiokit encode + decode of a test file with the packed model",
              func=stages.roundtrip, inputs=["{exp}/packed"], outputs=["{exp}/roundtrip.txt"]),
    ],
)
