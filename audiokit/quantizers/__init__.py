"""Vector quantizers shared by the codecs.

Codebooks (one family, two update rules): :class:`EMACodebook` (EnCodec-style EMA with
k-means init and dead-code expiry) and :class:`LearnedCodebook` (gradient-trained
``nn.Embedding``, HiFi-Codec). Topologies built from them, all with
``forward(x (B, D, F)) -> QuantizerOutput``, ``encode(x) -> codes (B, n_q, F)`` and
``decode(codes) -> (B, D, F)``: :class:`VectorQuantizer` (WavTokenizer),
:class:`ResidualVQ` (EnCodec/Vocos), :class:`GroupResidualVQ` (HiFi-Codec) and
:class:`MaskedChannelRVQ` (Language-Codec).
"""

from __future__ import annotations

from audiokit.quantizers.base import CodebookOutput, QuantizerOutput, usage_stats
from audiokit.quantizers.codebooks import EMACodebook, LearnedCodebook, make_codebook
from audiokit.quantizers.group import GroupResidualVQ
from audiokit.quantizers.layer import VQLayer
from audiokit.quantizers.masked import MaskedChannelRVQ
from audiokit.quantizers.residual import ResidualVQ, VectorQuantizer

__all__ = [
    "CodebookOutput", "EMACodebook", "GroupResidualVQ", "LearnedCodebook", "MaskedChannelRVQ",
    "QuantizerOutput", "ResidualVQ", "VQLayer", "VectorQuantizer", "make_codebook", "usage_stats",
]
