"""Shared neural-network layers used by audiokit's codecs and speech models.

Importing this sub-package imports torch (``import audiokit`` alone does not).

* :mod:`~audiokit.nn.weight_norm`: build, fold and key-map weight-normed layers;
* :mod:`~audiokit.nn.sconv`: EnCodec-style padded (causal / non-causal) convolutions;
* :mod:`~audiokit.nn.seanet`: SEANet encoder and decoder;
* :mod:`~audiokit.nn.convnext`: ConvNeXt block and AdaLayerNorm;
* :mod:`~audiokit.nn.vqgan`: VQGAN ResNet/attention blocks (WavTokenizer ``pos_net``);
* :mod:`~audiokit.nn.vocos`: Vocos backbone;
* :mod:`~audiokit.nn.istft`: "same"/"center" ISTFT and the ISTFT head;
* :mod:`~audiokit.nn.hifigan`: HiFi-GAN generator, mirrored encoder, MRF resblocks;
* :mod:`~audiokit.nn.attention`, :mod:`~audiokit.nn.conformer`: multi-head attention
  (+ relative positions, caches), Conformer blocks and the cache-aware encoder;
  :mod:`~audiokit.nn.causal_conv`, :mod:`~audiokit.nn.subsampling`, :mod:`~audiokit.nn.masks`.
"""

from __future__ import annotations

from audiokit.nn.attention import (
    MultiHeadAttention,
    RelPositionalEncoding,
    RelPositionMultiHeadAttention,
)
from audiokit.nn.causal_conv import CausalConv1d, CausalConv2d
from audiokit.nn.conformer import (
    ConformerBlock,
    ConformerCache,
    ConformerConvolution,
    ConformerEncoder,
    FeedForward,
)
from audiokit.nn.convnext import AdaLayerNorm, ConvNeXtBlock
from audiokit.nn.hifigan import HiFiGANEncoder, HiFiGANGenerator, ResBlock1, ResBlock2
from audiokit.nn.istft import ISTFT, ISTFTHead
from audiokit.nn.sconv import SConv1d, SConvTranspose1d
from audiokit.nn.seanet import SLSTM, SEANetDecoder, SEANetEncoder, SEANetResnetBlock
from audiokit.nn.subsampling import DwStridingSubsampling
from audiokit.nn.vocos import VocosBackbone
from audiokit.nn.vqgan import AttnBlock1d, ResnetBlock1d, build_pos_net
from audiokit.nn.weight_norm import (
    WeightNormed,
    WNConv1d,
    WNConv2d,
    WNConvTranspose1d,
    adapt_weight_norm_keys,
    apply_weight_norm,
    fold_weight_norm,
    load_state_dict_any_style,
    remove_weight_norm,
)

__all__ = [
    "ISTFT", "SLSTM", "AdaLayerNorm", "AttnBlock1d", "CausalConv1d", "CausalConv2d", "ConformerBlock",
    "ConformerCache", "ConformerConvolution", "ConformerEncoder", "ConvNeXtBlock", "DwStridingSubsampling",
    "FeedForward", "HiFiGANEncoder", "HiFiGANGenerator", "ISTFTHead", "MultiHeadAttention",
    "RelPositionMultiHeadAttention", "RelPositionalEncoding", "ResBlock1", "ResBlock2", "ResnetBlock1d",
    "SConv1d", "SConvTranspose1d", "SEANetDecoder", "SEANetEncoder", "SEANetResnetBlock", "VocosBackbone",
    "WNConv1d", "WNConv2d", "WNConvTranspose1d", "WeightNormed", "adapt_weight_norm_keys",
    "apply_weight_norm", "build_pos_net", "fold_weight_norm", "load_state_dict_any_style", "remove_weight_norm",
]
