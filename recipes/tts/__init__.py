"""The TTS pipeline (F5-TTS): corpus, vocabulary, training, zero-shot synthesis in held-out voices,
scoring against the untrained model, the vocoder ceiling and the real recordings, packing.

Stages (``python -m recipes.tts --help``):

1. ``prepare``    ``python <recipe>/local/prepare.py --out <data_dir> --seed N <prepare_args...>``:
   Kaldi dirs ``train``, ``dev``, ``test`` (corpus-specific code lives only there).
2. ``validate``   train/dev/test with transcripts; ``exp/<tag>/validate.txt``.
3. ``lang``       ``<data_dir>/lang/vocab.txt``: characters of the training transcripts, space first.
4. ``train``      ``python -m audiokit train --config <repo>/<train_config> exp_dir=exp/<tag>/train
   seed=N data.train_dirs=[<data>/train] data.val_dirs=[<data>/dev] data.vocab=<data>/lang/vocab.txt
   <train_overrides...>``; a killed run resumes from ``last.ckpt``.
5. ``synthesize`` test sentences in the test voices, prompted by another utterance of the same speaker:
   trained (EMA), untrained, vocoder copy synthesis, and the NFE x sway sweep (``recipes/tts/synth.py``).
6. ``score``      mel L1 after DTW, mel-statistics L1, pocketsphinx WER -> ``exp/<tag>/RESULTS.md``,
   ``scores.json`` (``recipes/tts/results.py``).
7. ``pack``       ``exp/<tag>/packed/`` (config.yaml, model.safetensors with the EMA weights, vocab.txt).
"""

from __future__ import annotations

from audiokit.recipe import Recipe, Stage
from recipes.tts import stages
from recipes.tts.results import score
from recipes.tts.synth import synthesize

DEFAULTS = {
    "tag": "tts",
    "data_dir": "data",
    "prepare_args": [],
    "seed": 0,
    "train_config": "configs/tts/train_f5tts_mini.yaml",
    "train_overrides": [],
    "synth_max_utts": 30,
    "ref_max_seconds": 10.0,
    "nfe": 32,
    "sway": -1.0,
    "cfg_strength": 2.0,
    "speed": 1.0,
    "duration": "estimate",
    "vocoder": "griffinlim",
    "griffinlim_iters": 32,
    "sweep_nfe": [16, 32],
    "sweep_utts": 6,
    "asr": "pocketsphinx",
    "torch_threads": 0,
}

SYNTH_KEYS = ["torch_threads", "synth_max_utts", "ref_max_seconds", "nfe", "sway", "cfg_strength", "speed", "duration", "vocoder",
              "griffinlim_iters", "sweep_nfe", "sweep_utts", "seed"]

RECIPE = Recipe(
    name="tts",
    description="Train F5-TTS on a corpus, synthesize held-out sentences in held-out voices, score and pack it.",
    defaults=DEFAULTS,
    check=stages.check_config,
    stages=[
        Stage(name="prepare", description="build the Kaldi data dirs with local/prepare.py", argv=stages.prepare_argv,
              inputs=["{recipe}/local/prepare.py"], outputs=stages.set_paths,
              config_keys=["data_dir", "seed", "prepare_args"], ignore_args=["--jobs"]),
        Stage(name="validate", description="validate the Kaldi data dirs", func=stages.validate,
              inputs=stages.set_paths, outputs=["{exp}/validate.txt"], config_keys=["data_dir"]),
        Stage(name="lang", description="character vocabulary of the training text", func=stages.lang,
              inputs=["{data_dir}/train/text"], outputs=["{data_dir}/lang/vocab.txt"], fingerprint="content"),
        Stage(name="train", description="audiokit train (resumes after a kill)", argv=stages.train_argv,
              inputs=stages.train_inputs, outputs=["{exp}/train/checkpoints/last.ckpt"],
              config_keys=["train_config", "train_overrides", "seed"]),
        Stage(name="synthesize", description="test sentences in the test voices (trained, untrained, copysynth, sweep)",
              func=synthesize, inputs=["{exp}/train/checkpoints/last.ckpt", "{data_dir}/test", "{data_dir}/lang/vocab.txt"],
              outputs=["{exp}/synth"], config_keys=SYNTH_KEYS, clean_outputs=True),
        Stage(name="score", description="mel L1 (DTW), mel stats, pocketsphinx WER -> RESULTS.md",
              func=score, inputs=["{exp}/synth", "{data_dir}/test"],
              outputs=["{exp}/RESULTS.md", "{exp}/scores.json"], config_keys=["asr"]),
        Stage(name="pack", description="save the trained model (EMA) + vocab to exp/<tag>/packed", func=stages.pack,
              inputs=["{exp}/train/checkpoints/last.ckpt", "{data_dir}/lang/vocab.txt"], outputs=["{exp}/packed"]),
    ],
)
