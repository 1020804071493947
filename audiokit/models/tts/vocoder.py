"""Vocos mel vocoder (``charactr/vocos-mel-24khz``): mel ``(B, 100, T)`` -> waveform ``(B, L)``.

A composition of :class:`~audiokit.nn.VocosBackbone` and :class:`~audiokit.nn.ISTFTHead`
("center" padding: ``L = (T - 1) * hop``) with the ``vocos_mel_24k`` front-end for
copy-synthesis. :meth:`VocosVocoder.from_official` reads the released layout: ``config.yaml``
(numbers only, read with ``yaml.safe_load``; the class paths in it are never imported) and
``pytorch_model.bin`` (``torch.load(weights_only=True)``; ``backbone.*``, ``head.*`` kept,
``feature_extractor.*`` buffers dropped).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audiokit.errors import ConfigError
from audiokit.nn import ISTFTHead, VocosBackbone

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "pytorch_model.bin"


class VocosVocoder(nn.Module):
    """Vocos backbone + ISTFT head.

    Args:
        n_mels: mel channels (backbone input).
        dim, intermediate_dim, num_layers: backbone width, ConvNeXt hidden width, blocks.
        n_fft, hop_length: ISTFT settings; ``padding``: "center" (mel release) or "same".
        sample_rate: output rate.
    """

    def __init__(self, n_mels: int = 100, dim: int = 512, intermediate_dim: int = 1536, num_layers: int = 8,
                 n_fft: int = 1024, hop_length: int = 256, padding: str = "center", sample_rate: int = 24000,
                 layer_scale_init_value: float | None = None) -> None:
        super().__init__()
        self.n_mels, self.sample_rate, self.hop_length, self.n_fft = n_mels, sample_rate, hop_length, n_fft
        self.backbone = VocosBackbone(n_mels, dim, intermediate_dim, num_layers, layer_scale_init_value)
        self.head = ISTFTHead(dim, n_fft, hop_length, padding)
        self.__dict__["_frontend"] = None

    @torch.inference_mode()
    def decode(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` log-mel -> ``(B, L)`` waveform."""
        return self.head(self.backbone(mel))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`decode` but keeps autograd (training)."""
        return self.head(self.backbone(mel))

    def features(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``(B, L)`` -> the vocoder's log-mel ``(B, n_mels, T)`` (``vocos_mel_24k``, floor 1e-7)."""
        if self.__dict__["_frontend"] is None:
            from audiokit.features import MelFrontend

            self.__dict__["_frontend"] = MelFrontend("vocos_mel_24k", sample_rate=self.sample_rate, n_fft=self.n_fft,
                                                     win_length=self.n_fft, hop_length=self.hop_length,
                                                     n_mels=self.n_mels)
        return self.__dict__["_frontend"].to(wav.device)(wav)

    @classmethod
    def from_official(cls, folder: str | os.PathLike) -> VocosVocoder:
        """Build from a released folder (``config.yaml`` + ``pytorch_model.bin``), eval mode."""
        folder = Path(folder)
        model = cls(**official_args(folder / CONFIG_NAME))
        load_official_weights(model, folder / WEIGHTS_NAME)
        return model.eval()


def official_args(path: str | os.PathLike) -> dict[str, Any]:
    """Constructor arguments of :class:`VocosVocoder` from a Vocos ``config.yaml`` (numbers only)."""
    import yaml

    from audiokit.convert.common import yaml_number, yaml_section

    where = str(path)
    try:
        cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{where}: not a readable YAML file ({type(err).__name__})") from None
    expected = "a Vocos config with feature_extractor, backbone and head"
    feats, bb, head = (yaml_section(cfg, k, where, expected) for k in ("feature_extractor", "backbone", "head"))
    if "adanorm_num_embeddings" in bb:
        raise ConfigError(f"{where}: backbone.adanorm_num_embeddings: only the mel Vocos release is supported")
    padding = head.get("padding", "same")
    if padding not in ("same", "center"):
        raise ConfigError(f"{where}: head.padding: expected 'same' or 'center', got {padding!r}")
    args = {
        "n_mels": yaml_number(bb, "input_channels", f"{where}: backbone"),
        "dim": yaml_number(bb, "dim", f"{where}: backbone"),
        "intermediate_dim": yaml_number(bb, "intermediate_dim", f"{where}: backbone"),
        "num_layers": yaml_number(bb, "num_layers", f"{where}: backbone"),
        "n_fft": yaml_number(head, "n_fft", f"{where}: head"),
        "hop_length": yaml_number(head, "hop_length", f"{where}: head"),
        "padding": padding,
        "sample_rate": yaml_number(feats, "sample_rate", f"{where}: feature_extractor"),
    }
    if "layer_scale_init_value" in bb:
        args["layer_scale_init_value"] = yaml_number(bb, "layer_scale_init_value", f"{where}: backbone", float)
    if "n_mels" in feats and yaml_number(feats, "n_mels", f"{where}: feature_extractor") != args["n_mels"]:
        raise ConfigError(f"{where}: feature_extractor.n_mels differs from backbone.input_channels")
    if yaml_number(head, "dim", f"{where}: head") != args["dim"]:
        raise ConfigError(f"{where}: head.dim differs from backbone.dim")
    return args


def load_official_weights(model: VocosVocoder, path: str | os.PathLike) -> None:
    """Load a Vocos ``pytorch_model.bin`` into ``model`` (strict; one-line ``CheckpointError``)."""
    from audiokit.convert.common import (
        load_checked,
        read_torch_file,
        split_prefixes,
        unwrap_state_dict,
    )

    where = str(path)
    state, _ = unwrap_state_dict(read_torch_file(path), where)
    kept, _ = split_prefixes(state, {"backbone.": "backbone.", "head.": "head."}, ("feature_extractor.",), where)
    load_checked(model, kept, where)
