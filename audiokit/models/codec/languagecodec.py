"""Language-Codec (arXiv 2402.12208): masked-channel RVQ, 8 codebooks at 75 frames/s.

Composition of shared parts (reference: codecs.md §5.1)::

    wav (B, 1, L) --encoder (SEANet, latent 128)--> x (B, 128, F)        F = ceil(L / hop)
                  --quantizer (MCRVQ, 8 EMA codebooks)--> codes (B, n_q, F), features (B, 128, F)
                  --backbone (Vocos ConvNeXt, AdaLN x 4)--> (B, F, 384)
                  --head (ISTFT "same", n_fft 1280, hop 320)--> wav_hat (B, 1, F * hop)

MCRVQ (codecs.md §5.2): codebooks 0, 1 and 2 each see ``x`` with every channel outside one
third zeroed (thirds split at ``D // 3`` and ``2 * D // 3``), codebook 3 sees
``x - q0 - q1 - q2`` and the rest are plain residual VQ. :meth:`encode` applies the masks
(the upstream ``encode()`` does not), so its codes are those of the trained forward pass.

Two releases share this class (codecs.md §5.6): v2 (1024-entry codebooks, 12 ConvNeXt
layers; the default) and v1 (2048 entries, 8 layers). The bitrate is chosen by the number of
codebooks: any prefix of the 8 codebooks decodes (v2: 0.75 kbit/s per codebook, so 4
codebooks = 3 kbit/s, 8 = 6 kbit/s).

Sub-module names are the official checkpoint's after stripping its prefixes
(``feature_extractor.encodec.encoder.`` -> ``encoder.``,
``feature_extractor.encodec.quantizer.`` -> ``quantizer.``, ``backbone.``, ``head.``), so
:mod:`audiokit.convert.languagecodec` is prefix stripping plus checks.

Inference uses ``bandwidth_id = 0`` as the reference does (training drew the id at random
over four identical bandwidths, so the four AdaLN rows carry no bitrate meaning).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from audiokit.models.codec.base import Codec
from audiokit.nn import ISTFTHead, SEANetEncoder, VocosBackbone
from audiokit.quantizers import MaskedChannelRVQ, QuantizerOutput

#: codebook counts drawn uniformly per training step (quantizer dropout) by each release
TRAIN_N_Q_V2 = (3, 4, 5, 6, 7, 8)
TRAIN_N_Q_V1 = (3, 4, 8)


class LanguageCodec(Codec):
    """Language-Codec: ``encode(wav (B, 1, L)) -> codes (B, n_q, F)``, ``decode`` back.

    Args:
        sample_rate: audio rate in Hz (24000 for the releases).
        ratios: SEANet downsampling ratios in decoder order (``[8, 5, 4, 2]`` -> hop 320).
        dimension: latent (and codebook entry) dimension, 128.
        n_filters: SEANet base width.
        lstm: SEANet LSTM layers.
        n_q: number of MCRVQ codebooks (8).
        codebook_size: entries per codebook (v2 1024, v1 2048).
        kmeans_iters: k-means iterations of each codebook's first training batch (50).
        decay: EMA decay of the codebooks.
        threshold_ema_dead_code: EMA count below which an entry is replaced in training.
        backbone_dim: Vocos backbone width (384).
        intermediate_dim: ConvNeXt hidden width (1152).
        num_layers: ConvNeXt blocks (v2 12, v1 8).
        adanorm_num_embeddings: AdaLayerNorm rows (bandwidth ids), 4.
        n_fft: ISTFT size (default ``4 * hop`` = 1280).
        train_n_q: codebook counts drawn per training step when ``forward`` gets no ``n_q``
            (v2 ``3..8``, v1 ``(3, 4, 8)``); empty = always all codebooks.
        effective_dead_code, consistent_init: training-only codebook rules that depart from the
            reference (see :class:`~audiokit.quantizers.codebooks.EMACodebook`); off for the
            releases, on for small-batch training (``configs/codec/train_languagecodec_mini.yaml``).
    """

    name = "languagecodec"
    #: padding a shorter item changes its last frames (reflect padding and look-ahead of the
    #: non-causal convs), so only equal-length items may share a batch
    batch_invariant = False

    def __init__(
        self,
        sample_rate: int = 24000,
        ratios: Sequence[int] = (8, 5, 4, 2),
        dimension: int = 128,
        n_filters: int = 32,
        lstm: int = 2,
        n_q: int = 8,
        codebook_size: int = 1024,
        kmeans_iters: int = 50,
        decay: float = 0.99,
        threshold_ema_dead_code: float = 2,
        backbone_dim: int = 384,
        intermediate_dim: int = 1152,
        num_layers: int = 12,
        adanorm_num_embeddings: int = 4,
        n_fft: int | None = None,
        train_n_q: Sequence[int] = TRAIN_N_Q_V2,
        effective_dead_code: bool = False,
        consistent_init: bool = False,
    ) -> None:
        super().__init__()
        ratios = [int(r) for r in ratios]
        hop = int(math.prod(ratios))
        n_fft = 4 * hop if n_fft is None else int(n_fft)
        train_n_q = [int(n) for n in train_n_q]
        if any(not 1 <= n <= n_q for n in train_n_q):
            raise ValueError(f"train_n_q {train_n_q} must lie in [1, {n_q}]")
        self.init_args = {
            "sample_rate": sample_rate, "ratios": ratios, "dimension": dimension, "n_filters": n_filters,
            "lstm": lstm, "n_q": n_q, "codebook_size": codebook_size, "kmeans_iters": kmeans_iters,
            "decay": decay, "threshold_ema_dead_code": threshold_ema_dead_code, "backbone_dim": backbone_dim,
            "intermediate_dim": intermediate_dim, "num_layers": num_layers,
            "adanorm_num_embeddings": adanorm_num_embeddings, "n_fft": n_fft, "train_n_q": train_n_q,
        }
        # training-only codebook rules: recorded only when set, so released configs keep their hash
        if effective_dead_code:
            self.init_args["effective_dead_code"] = True
        if consistent_init:
            self.init_args["consistent_init"] = True
        self.sample_rate = int(sample_rate)
        self.hop_length = hop
        self.n_codebooks = int(n_q)
        self.codebook_size = int(codebook_size)
        self.train_n_q = train_n_q
        self.encoder = SEANetEncoder(dimension=dimension, n_filters=n_filters, ratios=ratios, lstm=lstm)
        self.quantizer = MaskedChannelRVQ(
            dimension, n_q, codebook_size, kmeans_init=True, kmeans_iters=kmeans_iters, decay=decay,
            threshold_ema_dead_code=threshold_ema_dead_code, detach_residual=True,
            effective_dead_code=effective_dead_code, consistent_init=consistent_init,
        )
        self.backbone = VocosBackbone(
            input_channels=dimension, dim=backbone_dim, intermediate_dim=intermediate_dim,
            num_layers=num_layers, adanorm_num_embeddings=adanorm_num_embeddings,
        )
        self.head = ISTFTHead(backbone_dim, n_fft=n_fft, hop_length=hop, padding="same")

    # -- lengths and bitrates ------------------------------------------------------
    def num_frames(self, n_samples: int) -> int:
        """Code frames for ``n_samples`` samples: ``ceil(n_samples / hop_length)``."""
        return -(-int(n_samples) // self.hop_length)

    def bandwidth_kbps(self, n_q: int | None = None) -> float:
        """Bitrate of ``n_q`` codebooks (default all) in kbit/s (v2: 0.75 per codebook)."""
        n_q = self.n_codebooks if n_q is None else int(n_q)
        return self.quantizer.bandwidth_kbps(n_q, self.frame_rate)

    def n_q_for_bandwidth(self, bandwidth_kbps: float) -> int:
        """Codebooks fitting ``bandwidth_kbps``: ``max(1, floor(bw / per-codebook bw))``, at most all.

        v2: 3.0 -> 4, 6.0 -> 8; v1: 6.6 -> 8 (the reference's rule).
        """
        if not bandwidth_kbps > 0:
            raise ValueError(f"bandwidth must be > 0 kbit/s, got {bandwidth_kbps}")
        return self.quantizer.n_q_for_bandwidth(float(bandwidth_kbps), self.frame_rate)

    @property
    def bandwidths(self) -> list[float]:
        """Bitrates (kbit/s) selectable with 1..n_codebooks codebooks."""
        return [self.bandwidth_kbps(n) for n in range(1, self.n_codebooks + 1)]

    @property
    def codebook_initialized(self) -> bool:
        """Whether every codebook holds trained/k-means entries (``inited == 1``)."""
        return all(bool(layer.codebook.inited.item()) for layer in self.quantizer.layers)

    # -- pieces --------------------------------------------------------------------
    def decode_features(self, features: torch.Tensor, bandwidth_id: torch.Tensor | int = 0) -> torch.Tensor:
        """Latent ``(B, dimension, F)`` -> audio ``(B, 1, F * hop_length)``."""
        hidden = self.backbone(features, bandwidth_id)
        return self.head(hidden).unsqueeze(1)

    def codes_to_features(self, codes: torch.Tensor) -> torch.Tensor:
        """Sum of the lookups of codes ``(B, n_q, F)`` (any ``n_q <= n_codebooks``) -> ``(B, D, F)``.

        (The reference's ``codes_to_features`` takes ``(n_q, B, F)``; audiokit codes are
        batch-first everywhere.)
        """
        if codes.dim() != 3:
            raise ValueError(f"expected codes of shape (B, n_q, F), got {tuple(codes.shape)}")
        return self.quantizer.decode(codes.long())

    def _training_n_q(self) -> int:
        """Codebooks for this training step: uniform over ``train_n_q`` (global torch RNG)."""
        if not self.train_n_q:
            return self.n_codebooks
        choice = int(torch.randint(0, len(self.train_n_q), (1,)).item())
        return self.train_n_q[choice]

    # -- training ------------------------------------------------------------------
    def forward(
        self, wav: torch.Tensor, bandwidth_id: torch.Tensor | int = 0, n_q: int | None = None
    ) -> tuple[torch.Tensor, QuantizerOutput]:
        """Reconstruct ``wav`` ``(B, 1, L)`` (or ``(B, L)``) for training.

        ``n_q`` defaults to a draw from ``train_n_q`` in training mode (quantizer dropout,
        as the reference) and to all codebooks in eval mode. Returns
        ``(wav_hat (B, 1, F * hop), QuantizerOutput)`` with codes ``(B, n_q, F)`` and the
        mean per-codebook commitment loss (the reference weights it by 1000). In training
        the codebooks run k-means on their first batch and EMA updates afterwards; in eval
        k-means still runs once on a never-initialised codebook, EMA never does.
        """
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"expected mono audio (B, 1, L) or (B, L), got {tuple(wav.shape)}")
        if n_q is None:
            n_q = self._training_n_q() if self.training else self.n_codebooks
        q = self.quantizer(self.encoder(wav), n_q=n_q)
        return self.decode_features(q.quantized, bandwidth_id), q

    # -- Codec contract ------------------------------------------------------------
    def encode(
        self, wav: torch.Tensor, n_q: int | None = None, *, bandwidth_kbps: float | None = None
    ) -> torch.Tensor:
        """Encode ``wav`` ``(B, 1, L)`` -> codes ``(B, n_q, ceil(L / hop))``.

        Choose the bitrate by ``n_q`` (codebooks) or ``bandwidth_kbps`` (not both); default
        all codebooks.
        """
        if bandwidth_kbps is not None:
            if n_q is not None:
                raise ValueError("give n_q or bandwidth_kbps, not both")
            n_q = self.n_q_for_bandwidth(bandwidth_kbps)
        return super().encode(wav, n_q)

    def _encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        """``(B, 1, L)`` -> masked-channel codes ``(B, n_q, F)``; never touches the codebooks."""
        return self.quantizer.encode(self.encoder(wav), n_q)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``(B, n_q, F)`` -> ``(B, 1, F * hop)`` with ``bandwidth_id = 0``."""
        return self.decode_features(self.codes_to_features(codes), 0)
