"""Synthetic WavTokenizer checkpoints in the official on-disk layout (tiny widths).

Layout facts (codecs.md §6.1, §6.3, §9; jishengpeng/WavTokenizer ``decoder/experiment.py``,
``decoder/feature_extractors.py``, ``decoder/pretrained.py``):

* the file is a PyTorch-Lightning ``.ckpt``: a dict with ``state_dict`` next to ``epoch``,
  ``global_step``, ``pytorch-lightning_version``, ``optimizer_states``, ``lr_schedulers``,
  ``callbacks``, ``hparams_name``, ``hyper_parameters``; all plain values, so
  ``torch.load(weights_only=True)`` reads it (HF's pickle scan lists only OrderedDict and
  tensor rebuilders);
* ``state_dict`` keys in registration order: ``feature_extractor.encodec.encoder.*`` (SEANet,
  legacy ``weight_g``/``weight_v``), ``feature_extractor.encodec.decoder.*`` (unused SEANet
  decoder), ``feature_extractor.encodec.quantizer.vq.layers.0._codebook.{inited,cluster_size,
  embed,embed_avg}``, ``backbone.*`` (with ``pos_net.{0..5}``), ``head.{out,istft.window}``,
  ``multiperioddisc.*``, ``multiresddisc.*``, ``dac.*``, ``dacdiscriminator.discriminator.*``
  (a duplicate of ``dac.``), ``melspec_loss.mel_spec.{spectrogram.window,mel_scale.fb}``.

Load this file by path (``load_fixture_module``): the test tree has no packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from audiokit.discriminators import (
    DiscriminatorB,
    DiscriminatorP,
    MultiPeriodDiscriminator,
    MultiResolutionDiscriminator,
)
from audiokit.models.codec.wavtokenizer import WavTokenizer
from audiokit.nn import SEANetDecoder

#: tiny configuration with the real structure (hop 16, four downsampling ratios like the releases)
TINY = {"sample_rate": 24000, "ratios": [2, 2, 2, 2], "dimension": 16, "n_filters": 4, "lstm": 2,
        "codebook_size": 32, "kmeans_iters": 200, "backbone_dim": 32, "intermediate_dim": 48, "num_layers": 2,
        "adanorm_num_embeddings": 4, "pos_net": True, "n_fft": 64}
TO_OFFICIAL = {"encoder.": "feature_extractor.encodec.encoder.",
               "quantizer.": "feature_extractor.encodec.quantizer.", "backbone.": "backbone.", "head.": "head."}


def tiny_model(seed: int = 0, **overrides: Any) -> WavTokenizer:
    """A tiny WavTokenizer with random weights and a trained-looking codebook (``inited = 1``)."""
    torch.manual_seed(seed)
    model = WavTokenizer(**{**TINY, **overrides}).eval()
    cb = model.quantizer.layers[0].codebook
    with torch.no_grad():
        cb.embed.copy_(torch.randn_like(cb.embed))
        cb.embed_avg.copy_(cb.embed * 3)
        cb.cluster_size.fill_(3.0)
        cb.inited.fill_(1.0)
    return model


def to_official(model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """audiokit key names -> official names (generator part only)."""
    out = {}
    for key, value in model_state.items():
        prefix = next(p for p in TO_OFFICIAL if key.startswith(p))
        out[TO_OFFICIAL[prefix] + key[len(prefix):]] = value.clone()
    return out


class _DAC(nn.Module):
    """Stand-in with the DAC discriminator's names: ``discriminators.{i}`` (MPD then MRD)."""

    def __init__(self) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [DiscriminatorP(p, channels=(2, 4, 4, 4, 4), always_pad=True) for p in (2, 3)]
            + [DiscriminatorB(w, channels=4, window="rect") for w in (64, 32)]
        )


def _prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {prefix + k: v.clone() for k, v in module.state_dict().items()}


def official_state_dict(model: WavTokenizer, style: str = "legacy") -> dict[str, torch.Tensor]:
    """The full official ``state_dict`` for ``model`` (plus tiny training-only parts).

    ``style="parametrize"`` renames every ``weight_g``/``weight_v`` to
    ``parametrizations.weight.original0/1`` (checkpoints re-saved with newer torch).
    """
    torch.manual_seed(123)
    gen = to_official(model.state_dict())
    args = model.init_args
    decoder = SEANetDecoder(dimension=args["dimension"], n_filters=args["n_filters"], ratios=args["ratios"])
    state: dict[str, torch.Tensor] = {}
    state.update({k: v for k, v in gen.items() if k.startswith("feature_extractor.encodec.encoder.")})
    state.update(_prefixed("feature_extractor.encodec.decoder.", decoder))
    state.update({k: v for k, v in gen.items() if k.startswith("feature_extractor.encodec.quantizer.")})
    state.update({k: v for k, v in gen.items() if k.startswith(("backbone.", "head."))})
    return with_training_keys(state, dac=True, style=style)


def with_training_keys(state: dict[str, torch.Tensor], *, dac: bool, style: str) -> dict[str, torch.Tensor]:
    """``state`` plus the training-only parts the Vocos-family releases (WavTokenizer,
    Language-Codec) save: tiny MPD/MRD, optionally the DAC discriminator (twice, as released),
    mel-loss buffers; ``style="parametrize"`` renames weight-norm keys to the newer torch names."""
    state = dict(state)
    state.update(_prefixed("multiperioddisc.", MultiPeriodDiscriminator(num_embeddings=4, channels=(2, 4, 4, 4, 4))))
    state.update(_prefixed("multiresddisc.", MultiResolutionDiscriminator(num_embeddings=4, channels=4)))
    if dac:
        disc = _DAC()
        state.update(_prefixed("dac.", disc))
        state.update(_prefixed("dacdiscriminator.discriminator.", disc))
    state["melspec_loss.mel_spec.spectrogram.window"] = torch.hann_window(1024)
    state["melspec_loss.mel_spec.mel_scale.fb"] = torch.rand(513, 100)
    if style == "parametrize":
        state = {k.replace("weight_g", "parametrizations.weight.original0")
                  .replace("weight_v", "parametrizations.weight.original1"): v for k, v in state.items()}
    return state


def lightning_checkpoint(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """A Lightning ``.ckpt`` dict around ``state`` (plain values: weights_only loads it)."""
    first = next(iter(state.values()))
    return {
        "epoch": 3,
        "global_step": 1200,
        "pytorch-lightning_version": "1.8.6",
        "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 4}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
            "monitor": "val_loss", "best_model_score": torch.tensor(5.98),
            "best_model_path": "version_3/checkpoints/vocos_checkpoint_epoch=3.ckpt"}},
        "optimizer_states": [{"state": {0: {"step": torch.tensor(600.0), "exp_avg": torch.zeros_like(first),
                                            "exp_avg_sq": torch.zeros_like(first)}},
                              "param_groups": [{"lr": 2e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                                                "weight_decay": 0.01, "amsgrad": False, "params": [0]}]}] * 2,
        "lr_schedulers": [{"base_lrs": [2e-4], "last_epoch": 600, "_step_count": 601, "verbose": False,
                           "_last_lr": [1.9e-4], "lr_lambdas": [None]}] * 2,
        "hparams_name": "kwargs",
        "hyper_parameters": {"sample_rate": 24000, "initial_learning_rate": 2e-4, "mel_loss_coeff": 45,
                             "mrd_loss_coeff": 1.0, "num_warmup_steps": 0, "pretrain_mel_steps": 0,
                             "resume": False, "resume_config": "x.yaml", "resume_model": "x.ckpt"},
    }


def write_checkpoint(path: Path, model: WavTokenizer | None = None, style: str = "legacy",
                     state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a synthetic official ``.ckpt`` for ``model`` (default :func:`tiny_model`)."""
    if state is None:
        state = official_state_dict(model if model is not None else tiny_model(), style)
    torch.save(lightning_checkpoint(state), path)
    return path


def official_yaml(args: dict[str, Any] = TINY) -> str:
    """An official-style training YAML stating ``args`` (class paths name reference classes)."""
    hop = 1
    for r in args["ratios"]:
        hop *= r
    return f"""seed_everything: 3407
data:
  class_path: decoder.dataset.VocosDataModule
  init_args: {{train_params: {{filelist_path: x, sampling_rate: 24000}}}}
model:
  class_path: decoder.experiment.WavTokenizer
  init_args:
    sample_rate: {args['sample_rate']}
    initial_learning_rate: 2e-4
    feature_extractor:
      class_path: decoder.feature_extractors.EncodecFeatures
      init_args:
        encodec_model: encodec_24khz
        bandwidths: [6.6, 6.6, 6.6, 6.6]
        train_codebooks: true
        num_quantizers: 1
        dowmsamples: {list(args['ratios'])}
        vq_bins: {args['codebook_size']}
        vq_kmeans: {args['kmeans_iters']}
    backbone:
      class_path: decoder.models.VocosBackbone
      init_args:
        input_channels: {args['dimension']}
        dim: {args['backbone_dim']}
        intermediate_dim: {args['intermediate_dim']}
        num_layers: {args['num_layers']}
        adanorm_num_embeddings: {args['adanorm_num_embeddings']}
    head:
      class_path: decoder.heads.ISTFTHead
      init_args:
        dim: {args['backbone_dim']}
        n_fft: {args['n_fft']}
        hop_length: {hop}
        padding: same
trainer:
  logger:
    class_path: pytorch_lightning.loggers.TensorBoardLogger
"""
