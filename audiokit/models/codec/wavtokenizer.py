"""WavTokenizer (arXiv 2408.16532): one 4096-entry VQ codebook at 40 or 75 tokens/s.

Composition of shared parts (reference: codecs.md §6.1)::

    wav (B, 1, L) --encoder (SEANet, latent 512)--> (B, 512, F)      F = ceil(L / hop)
                  --quantizer (single EMA VQ 4096 x 512)--> codes (B, 1, F), features (B, 512, F)
                  --backbone (Vocos + pos_net + AdaLN x 4)--> (B, F, 768)
                  --head (ISTFT "same", n_fft = 4 * hop)--> wav_hat (B, 1, F * hop)

Sub-module names are the official checkpoint's after stripping its prefixes
(``feature_extractor.encodec.encoder.`` -> ``encoder.``,
``feature_extractor.encodec.quantizer.`` -> ``quantizer.``, ``backbone.``, ``head.``), so
:mod:`audiokit.convert.wavtokenizer` is prefix stripping plus checks.

Inference always uses ``bandwidth_id = 0`` (the reference does; the four AdaLN rows were
trained on identical bandwidths). The model is not streaming: pos_net's GroupNorm and
attention see the whole utterance, so encode one file per call (no padding in batches).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from audiokit.models.codec.base import Codec
from audiokit.nn import ISTFTHead, SEANetEncoder, VocosBackbone
from audiokit.quantizers import QuantizerOutput, VectorQuantizer


class WavTokenizer(Codec):
    """WavTokenizer codec: ``encode(wav (B, 1, L)) -> codes (B, 1, F)``, ``decode`` back.

    Args:
        sample_rate: audio rate in Hz (24000 for every release).
        ratios: SEANet downsampling ratios in decoder order; ``[8, 5, 4, 2]`` -> hop 320
            (75 tokens/s), ``[6, 5, 5, 4]`` -> hop 600 (40 tokens/s).
        dimension: latent (and codebook entry) dimension.
        n_filters: SEANet base width (channels double per downsampling).
        lstm: SEANet LSTM layers.
        codebook_size: VQ entries.
        kmeans_iters: k-means iterations of the codebook's first training batch.
        decay: EMA decay of the codebook.
        threshold_ema_dead_code: EMA count below which an entry is replaced in training.
        backbone_dim: Vocos backbone width.
        intermediate_dim: ConvNeXt hidden width.
        num_layers: ConvNeXt blocks.
        adanorm_num_embeddings: AdaLayerNorm rows (bandwidth ids).
        pos_net: put the VQGAN ResNet/attention ``pos_net`` before the ConvNeXt stack.
        n_fft: ISTFT size (default ``4 * hop``).
        effective_dead_code, consistent_init: training-only codebook rules that depart from the
            reference (see :class:`~audiokit.quantizers.codebooks.EMACodebook`); both off for
            the releases, on for small-batch training (``configs/codec/train_wavtokenizer_mini.yaml``).
        codebook_dim: quantize in a lower dimension through Linear ``project_in``/``project_out``
            (``None``: the latent dimension, as every release).
    """

    name = "wavtokenizer"

    def __init__(
        self,
        sample_rate: int = 24000,
        ratios: Sequence[int] = (8, 5, 4, 2),
        dimension: int = 512,
        n_filters: int = 32,
        lstm: int = 2,
        codebook_size: int = 4096,
        kmeans_iters: int = 200,
        decay: float = 0.99,
        threshold_ema_dead_code: float = 2,
        backbone_dim: int = 768,
        intermediate_dim: int = 2304,
        num_layers: int = 12,
        adanorm_num_embeddings: int = 4,
        pos_net: bool = True,
        n_fft: int | None = None,
        effective_dead_code: bool = False,
        consistent_init: bool = False,
        codebook_dim: int | None = None,
    ) -> None:
        super().__init__()
        ratios = [int(r) for r in ratios]
        hop = int(math.prod(ratios))
        n_fft = 4 * hop if n_fft is None else int(n_fft)
        self.init_args = {
            "sample_rate": sample_rate, "ratios": ratios, "dimension": dimension, "n_filters": n_filters,
            "lstm": lstm, "codebook_size": codebook_size, "kmeans_iters": kmeans_iters, "decay": decay,
            "threshold_ema_dead_code": threshold_ema_dead_code, "backbone_dim": backbone_dim,
            "intermediate_dim": intermediate_dim, "num_layers": num_layers,
            "adanorm_num_embeddings": adanorm_num_embeddings, "pos_net": pos_net, "n_fft": n_fft,
        }
        # training-only codebook rules: recorded only when set, so released configs keep their hash
        if effective_dead_code:
            self.init_args["effective_dead_code"] = True
        if consistent_init:
            self.init_args["consistent_init"] = True
        if codebook_dim is not None:
            self.init_args["codebook_dim"] = int(codebook_dim)
        self.sample_rate = int(sample_rate)
        self.hop_length = hop
        self.n_codebooks = 1
        self.codebook_size = int(codebook_size)
        self.encoder = SEANetEncoder(dimension=dimension, n_filters=n_filters, ratios=ratios, lstm=lstm)
        self.quantizer = VectorQuantizer(
            dimension, codebook_size, codebook_dim=codebook_dim, kmeans_init=True, kmeans_iters=kmeans_iters,
            decay=decay, threshold_ema_dead_code=threshold_ema_dead_code,
            effective_dead_code=effective_dead_code, consistent_init=consistent_init,
        )
        self.backbone = VocosBackbone(
            input_channels=dimension, dim=backbone_dim, intermediate_dim=intermediate_dim,
            num_layers=num_layers, adanorm_num_embeddings=adanorm_num_embeddings, pos_net=pos_net,
        )
        self.head = ISTFTHead(backbone_dim, n_fft=n_fft, hop_length=hop, padding="same")

    # -- lengths -------------------------------------------------------------------
    def num_frames(self, n_samples: int) -> int:
        """Code frames for ``n_samples`` samples: ``ceil(n_samples / hop_length)``."""
        return -(-int(n_samples) // self.hop_length)

    @property
    def codebook_initialized(self) -> bool:
        """Whether the codebook holds trained/k-means entries (``inited == 1``)."""
        return bool(self.quantizer.layers[0].codebook.inited.item())

    # -- pieces --------------------------------------------------------------------
    @staticmethod
    def _as_batch(wav: torch.Tensor) -> torch.Tensor:
        """Accept ``(B, L)`` or ``(B, 1, L)``; return ``(B, 1, L)``."""
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"expected mono audio (B, 1, L) or (B, L), got {tuple(wav.shape)}")
        return wav

    def decode_features(self, features: torch.Tensor, bandwidth_id: torch.Tensor | int = 0) -> torch.Tensor:
        """Latent ``(B, dimension, F)`` -> audio ``(B, 1, F * hop_length)``."""
        hidden = self.backbone(features, bandwidth_id)
        return self.head(hidden).unsqueeze(1)

    def codes_to_features(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook lookup: codes ``(B, 1, F)`` -> latent ``(B, dimension, F)``.

        (The reference's ``codes_to_features`` takes ``(1, B, F)``; audiokit codes are
        batch-first everywhere.)
        """
        if codes.dim() != 3 or codes.shape[1] != 1:
            raise ValueError(f"expected codes of shape (B, 1, F), got {tuple(codes.shape)}")
        return self.quantizer.decode(codes.long())

    # -- training ------------------------------------------------------------------
    def forward(
        self, wav: torch.Tensor, bandwidth_id: torch.Tensor | int = 0
    ) -> tuple[torch.Tensor, QuantizerOutput]:
        """Reconstruct ``wav`` ``(B, 1, L)`` (or ``(B, L)``) for training.

        Returns ``(wav_hat (B, 1, F * hop), QuantizerOutput)``; the quantizer output holds
        codes ``(B, 1, F)``, the commitment loss (the reference scales it by 1000 in the
        generator loss) and usage stats. In training mode the codebook runs k-means on its
        first batch and EMA updates afterwards; in eval mode k-means still runs once if the
        codebook was never initialised (as in the reference), EMA never does.
        """
        wav = self._as_batch(wav)
        q = self.quantizer(self.encoder(wav))
        return self.decode_features(q.quantized, bandwidth_id), q

    # -- Codec contract ------------------------------------------------------------
    def _encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        """``(B, 1, L)`` -> codes ``(B, 1, F)``; never touches the codebook (no k-means)."""
        return self.quantizer.encode(self.encoder(wav), n_q)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``(B, 1, F)`` -> ``(B, 1, F * hop)`` with ``bandwidth_id = 0``."""
        return self.decode_features(self.codes_to_features(codes), 0)
