"""The ASR pipeline: data, tokenizer, cache-aware FastConformer training, decoding, scoring, packing.

Stages (``python -m recipes.asr --help``):

1. ``prepare``   ``python <recipe>/local/prepare.py --out <data_dir> --jobs N [--corpus DIR]
   <prepare_args...>``: the Kaldi data dirs of ``train_sets``, ``dev_sets`` and ``test_sets``.
2. ``validate``  every data dir (``audiokit.data.validate``); ``exp/<tag>/validate.txt``.
3. ``tokenizer`` SentencePiece (``unigram``/``bpe``, ``vocab_size``) or characters, trained on
   the transcripts of ``train_sets``: ``<data_dir>/lang_<spm|bpe><N>`` or ``<data_dir>/lang_char``.
4. ``train``     ``python -m audiokit train --config <repo>/<train_config> exp_dir=exp/<tag>/train
   seed=.. data.train_dirs=[..] data.val_dirs=[..] data.tokenizer=<lang>
   task.model.init_args.vocab_size=<tokenizer size> <train_overrides...>``; resumes after a kill.
5. ``decode``    greedy search of every ``test_sets`` utterance (or ``decode.max_utts`` of them,
   spread over the speakers) in each ``decode.modes`` (``streaming``: chunk by chunk through
   ``init_state``/``step``; ``offline``: whole utterances, batched), at each
   ``decode.lookaheads_ms`` (default: the model's first), with each search head (RNN-T, CTC):
   ``exp/<tag>/decode/<set>/<mode>_<head>_la<ms>/hyp.txt`` + ``exp/<tag>/decode/summary.json``.
6. ``peer``      the same utterances through a reference recogniser (``peer: pocketsphinx``, CMU
   PocketSphinx's bundled US English model): ``exp/<tag>/peer/<set>/hyp.txt``.
7. ``score``     WER / CER (jiwer, normalised text), per-speaker table, streaming-vs-offline
   agreement, real-time factors: ``exp/<tag>/RESULTS.md`` and ``exp/<tag>/scores.json``.
8. ``pack``      ``save_pretrained`` + tokenizer files into ``exp/<tag>/packed`` (for
   ``audiokit transcribe --model``), checked by loading it back.
"""

from __future__ import annotations

from audiokit.recipe import Recipe, Stage
from recipes.asr import decode, score, stages

DEFAULTS = {
    "tag": "asr",
    "data_dir": "data",
    "corpus": "",            # corpus root for local/prepare.py --corpus (real corpora)
    "corpus_env": "",        # environment variable read when corpus is empty (LIBRISPEECH)
    "prepare_args": [],      # more arguments for local/prepare.py
    "prepare_outputs": [],   # other files/folders prepare makes inside the work dir (data/wav)
    "seed": 0,
    "jobs": 2,
    "train_sets": ["train"],
    "dev_sets": ["dev"],
    "test_sets": ["test"],
    "tokenizer": {"type": "spm", "model_type": "unigram", "vocab_size": 128},
    "train_config": "configs/asr/fastconformer_mini.yaml",
    "train_overrides": [],
    "decode": {"modes": ["streaming", "offline"], "lookaheads_ms": [], "heads": [], "max_utts": 0,
               "batch_size": 8},
    "peer": "pocketsphinx",
}

RECIPE = Recipe(
    name="asr",
    description="Train a cache-aware streaming FastConformer, decode streaming and offline, score and pack it.",
    defaults=DEFAULTS,
    check=stages.check_config,
    stages=[
        Stage(name="prepare", description="Kaldi data dirs with local/prepare.py", argv=stages.prepare_argv,
              inputs=["{recipe}/local/prepare.py"], outputs=stages.prepare_outputs,
              config_keys=["data_dir", "prepare_args", "train_sets", "dev_sets", "test_sets"],
              ignore_args=["--jobs"]),
        Stage(name="validate", description="validate the Kaldi data dirs", func=stages.validate,
              inputs=stages.data_inputs, outputs=["{exp}/validate.txt"], config_keys=["data_dir"]),
        Stage(name="tokenizer", description="SentencePiece or characters from the training text",
              func=stages.train_tokenizer, inputs=stages.tokenizer_inputs, outputs=stages.tokenizer_outputs,
              config_keys=["tokenizer", "train_sets"], clean_outputs=True, fingerprint="content"),
        Stage(name="train", description="audiokit train (resumes after a kill)", func=stages.train,
              inputs=stages.train_inputs, outputs=["{exp}/train/checkpoints/last.ckpt"],
              config_keys=["train_config", "train_overrides", "seed", "train_sets", "dev_sets", "tokenizer"]),
        Stage(name="decode", description="streaming + offline greedy decoding of the test sets",
              func=decode.decode, inputs=decode.decode_inputs, outputs=["{exp}/decode"],
              config_keys=["decode", "test_sets"], clean_outputs=True),
        Stage(name="peer", description="the same utterances through the peer recogniser (pocketsphinx)",
              func=decode.peer, inputs=decode.peer_inputs, outputs=["{exp}/peer"],
              config_keys=["peer", "decode.max_utts", "test_sets"], clean_outputs=True),
        Stage(name="score", description="WER/CER, per-speaker table -> RESULTS.md", func=score.score,
              inputs=score.score_inputs, outputs=["{exp}/RESULTS.md", "{exp}/scores.json"],
              config_keys=["test_sets", "peer"]),
        Stage(name="pack", description="save the trained model + tokenizer to exp/<tag>/packed",
              func=score.pack, inputs=score.pack_inputs, outputs=["{exp}/packed"]),
    ],
)
