"""HiFi-Codec (AcademiCodec, arXiv 2305.02765): HiFi-GAN encoder/decoder around a group-residual VQ.

Composition of shared parts (reference: codecs.md §3)::

    wav (B, 1, L) --encoder (mirrored HiFi-GAN + GroupNorm)--> latent (B, 512, F)   F = floor(L / hop)
                  --quantizer (GRVQ: 2 groups x 2 stages x 1024 x 256)--> codes (B, 4, F)
                  --generator (HiFi-GAN V1, tanh)--> wav_hat (B, 1, F * hop)

Codes are stage-major, ``(s1g0, s1g1, s2g0, s2g1)``; the reference's ``[B, F, 4]`` layout is
the same tensor transposed (:func:`audiokit.convert.hificodec.from_official_codes`). Decoding
the first two codebooks (stage 1 only) is meaningful; 1 or 3 codebooks are refused.

Sub-module names equal the official checkpoint's three top-level entries (``generator``,
``encoder``, ``quantizer``) and their keys, so loading an official file is prefixing plus checks.

The encoder's GroupNorm normalises over time: codes depend on the whole clip, and padding a
batch changes them. Encode one clip per call for the reference's codes.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from audiokit.models.codec.base import Codec
from audiokit.nn.hifigan import HiFiGANEncoder, HiFiGANGenerator
from audiokit.quantizers import GroupResidualVQ, QuantizerOutput

_V1_DILATIONS = ((1, 3, 5), (1, 3, 5), (1, 3, 5))


def _ints(values: Sequence) -> list:
    """Plain (YAML-friendly) nested int lists."""
    return [_ints(v) if isinstance(v, (list, tuple)) else int(v) for v in values]


class HiFiCodec(Codec):
    """HiFi-Codec: ``encode(wav (B, 1, L)) -> codes (B, 4, F)``, ``decode`` back.

    Args:
        sample_rate: audio rate in Hz (16000 or 24000 for the releases).
        upsample_rates: generator upsampling strides; the encoder uses them reversed; hop =
            their product ([8, 5, 4, 2] -> 320, [8, 5, 3, 2] -> 240).
        upsample_kernel_sizes: matching kernels ([16, 11, 8, 4] / [16, 11, 7, 4]).
        upsample_initial_channel: generator channels after ``conv_pre`` (512).
        resblock_kernel_sizes, resblock_dilation_sizes: generator MRF blocks (the encoder's are
            the reversed lists).
        resblock: HiFi-GAN resblock type (``"1"``).
        encoder_channels: encoder channels after ``conv_pre`` (32; doubled per downsampling).
        latent_dim: latent / quantizer dimension D (512).
        n_code_groups: GRVQ channel groups (2).
        n_residual_layers: GRVQ residual stages (2; the reference hard-codes 2).
        n_codes: entries per codebook (1024).
        codebook_loss_lambda, commitment_loss_lambda: codebook loss weights (1.0, 0.25).
        group_norm_size: channels per encoder GroupNorm group (16).
    """

    name = "hificodec"

    def __init__(
        self,
        sample_rate: int = 16000,
        upsample_rates: Sequence[int] = (8, 5, 4, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 11, 8, 4),
        upsample_initial_channel: int = 512,
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilation_sizes: Sequence[Sequence[int]] = _V1_DILATIONS,
        resblock: str = "1",
        encoder_channels: int = 32,
        latent_dim: int = 512,
        n_code_groups: int = 2,
        n_residual_layers: int = 2,
        n_codes: int = 1024,
        codebook_loss_lambda: float = 1.0,
        commitment_loss_lambda: float = 0.25,
        group_norm_size: int = 16,
    ) -> None:
        super().__init__()
        rates, kernels = _ints(upsample_rates), _ints(upsample_kernel_sizes)
        rb_kernels, rb_dilations = _ints(resblock_kernel_sizes), _ints(resblock_dilation_sizes)
        if any((k - u) % 2 for u, k in zip(rates, kernels)):
            raise ValueError(f"every kernel minus its rate must be even (output = frames x hop), got rates "
                             f"{rates} and kernels {kernels}")
        self.init_args = dict(
            sample_rate=int(sample_rate), upsample_rates=rates, upsample_kernel_sizes=kernels,
            upsample_initial_channel=int(upsample_initial_channel), resblock_kernel_sizes=rb_kernels,
            resblock_dilation_sizes=rb_dilations, resblock=str(resblock), encoder_channels=int(encoder_channels),
            latent_dim=int(latent_dim), n_code_groups=int(n_code_groups), n_residual_layers=int(n_residual_layers),
            n_codes=int(n_codes), codebook_loss_lambda=float(codebook_loss_lambda),
            commitment_loss_lambda=float(commitment_loss_lambda), group_norm_size=int(group_norm_size),
        )
        self.sample_rate = int(sample_rate)
        self.hop_length = math.prod(rates)
        self.n_codebooks = int(n_code_groups) * int(n_residual_layers)
        self.codebook_size = int(n_codes)
        self.generator = HiFiGANGenerator(
            latent_dim, rates, kernels, upsample_initial_channel, rb_kernels, rb_dilations, str(resblock), tanh=True)
        self.encoder = HiFiGANEncoder(
            rates[::-1], kernels[::-1], rb_kernels[::-1], rb_dilations[::-1], base_channels=encoder_channels,
            out_channels=latent_dim, resblock=str(resblock), group_norm_size=group_norm_size, final_slope=0.01)
        self.quantizer = GroupResidualVQ(
            latent_dim, n_code_groups, n_residual_layers, n_codes, codebook="learned",
            codebook_weight=codebook_loss_lambda, commitment_weight=commitment_loss_lambda)

    # -- lengths -------------------------------------------------------------------
    def num_frames(self, n_samples: int) -> int:
        """Code frames for ``n_samples`` samples: ``floor(n_samples / hop_length)`` (the tail is dropped)."""
        return self.encoder.num_frames(n_samples)

    @property
    def n_groups(self) -> int:
        """GRVQ channel groups: ``n_q`` must be a multiple of it."""
        return self.quantizer.n_groups

    # -- pieces --------------------------------------------------------------------
    def encode_latent(self, wav: torch.Tensor) -> torch.Tensor:
        """Encoder only: ``(B, 1, L)`` -> latent ``(B, latent_dim, F)``."""
        if wav.dim() == 2:
            wav = wav.unsqueeze(1)
        if wav.dim() != 3 or wav.shape[1] != 1:
            raise ValueError(f"expected mono audio (B, 1, L) or (B, L), got {tuple(wav.shape)}")
        if self.num_frames(wav.shape[-1]) < 1:
            raise ValueError(f"audio of {wav.shape[-1]} samples is shorter than one HiFi-Codec frame "
                             f"({self.hop_length} samples)")
        return self.encoder(wav)

    def codes_to_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Codebook lookups: codes ``(B, n_q, F)`` (n_q = 2 or 4) -> latent ``(B, latent_dim, F)``."""
        return self.quantizer.decode(codes)

    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Generator only: latent ``(B, latent_dim, F)`` -> ``(B, 1, F * hop_length)`` in [-1, 1]."""
        return self.generator(latent)

    # -- training ------------------------------------------------------------------
    def forward(self, wav: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, QuantizerOutput]:
        """Reconstruct ``wav`` ``(B, 1, L)`` for training.

        Returns ``(wav_hat (B, 1, F * hop), QuantizerOutput)``: codes ``(B, n_q, F)``, the
        codebook loss (mean over stages of ``1.0 * |z - sg(x)|^2 + 0.25 * |sg(z) - x|^2``; the
        reference weights it by 10 in the generator loss) and usage stats.
        """
        q = self.quantizer(self.encode_latent(wav), n_q)
        return self.decode_latent(q.quantized), q

    # -- Codec contract ------------------------------------------------------------
    def _encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        """``(B, 1, L)`` -> codes ``(B, n_q, F)``, stage-major; ``n_q`` a multiple of ``n_groups``."""
        if n_q % self.n_groups:
            raise ValueError(f"HiFi-Codec codes come in stages of {self.n_groups} codebooks: n_q must be "
                             f"a multiple of {self.n_groups} (up to {self.n_codebooks}), got {n_q}")
        return self.quantizer.encode(self.encode_latent(wav), n_q)

    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes ``(B, n_q, F)`` (n_q = 2: stage 1 only; 4: both stages) -> ``(B, 1, F * hop)``."""
        if codes.shape[1] % self.n_groups:
            raise ValueError(f"HiFi-Codec codes come in stages of {self.n_groups} codebooks: got "
                             f"{codes.shape[1]} codebooks, expected a multiple of {self.n_groups}")
        return self.decode_latent(self.codes_to_latent(codes))
