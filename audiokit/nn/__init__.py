"""Shared neural-network layers used by audiokit's codecs and speech models.

Importing this sub-package imports torch (``import audiokit`` alone does not).

* :mod:`~audiokit.nn.weight_norm`: build, fold and key-map weight-normed layers;
* :mod:`~audiokit.nn.sconv`: EnCodec-style padded (causal / non-causal) convolutions;
* :mod:`~audiokit.nn.seanet`: SEANet encoder and decoder;
* :mod:`~audiokit.nn.convnext`: ConvNeXt block and AdaLayerNorm;
* :mod:`~audiokit.nn.vqgan`: VQGAN ResNet/attention blocks (WavTokenizer ``pos_net``);
* :mod:`~audiokit.nn.vocos`: Vocos backbone;
* :mod:`~audiokit.nn.istft`: "same"/"center" ISTFT and the ISTFT head.
"""

from __future__ import annotations

from audiokit.nn.convnext import AdaLayerNorm, ConvNeXtBlock
from audiokit.nn.istft import ISTFT, ISTFTHead
from audiokit.nn.sconv import SConv1d, SConvTranspose1d
from audiokit.nn.seanet import SLSTM, SEANetDecoder, SEANetEncoder, SEANetResnetBlock
from audiokit.nn.vocos import VocosBackbone
from audiokit.nn.vqgan import AttnBlock1d, ResnetBlock1d, build_pos_net
from audiokit.nn.weight_norm import (
    adapt_weight_norm_keys,
    apply_weight_norm,
    fold_weight_norm,
    load_state_dict_any_style,
    remove_weight_norm,
)

__all__ = [
    "AdaLayerNorm", "AttnBlock1d", "ConvNeXtBlock", "ISTFT", "ISTFTHead", "ResnetBlock1d",
    "SConv1d", "SConvTranspose1d", "SEANetDecoder", "SEANetEncoder", "SEANetResnetBlock", "SLSTM",
    "VocosBackbone", "adapt_weight_norm_keys", "apply_weight_norm", "build_pos_net",
    "fold_weight_norm", "load_state_dict_any_style", "remove_weight_norm",
]
