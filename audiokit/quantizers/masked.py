"""Masked-channel residual VQ (MCRVQ, Language-Codec; codecs.md §5.2).

The first three codebooks each see the latent with all channels outside one third
zeroed (thirds split at ``D // 3`` and ``2 * D // 3``); their lookups are full-width and
not masked. The residual after them is ``x - q0 - q1 - q2`` and the remaining codebooks
are plain residual VQ. Unlike the upstream ``encode()``, :meth:`encode` applies the
masks, so its codes equal ``forward``'s.
"""

from __future__ import annotations

import torch

from audiokit.quantizers.residual import ResidualVQ

N_MASKED = 3


def channel_bounds(dim: int) -> list[tuple[int, int]]:
    """Channel ranges kept by the masked codebooks: [(0, D//3), (D//3, 2D//3), (2D//3, D)]."""
    split1, split2 = dim // 3, 2 * dim // 3
    return [(0, split1), (split1, split2), (split2, dim)]


def keep_channels(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """``x`` (B, D, F) with channels outside [start, stop) set to zero."""
    out = torch.zeros_like(x)
    out[:, start:stop] = x[:, start:stop]
    return out


class MaskedChannelRVQ(ResidualVQ):
    """MCRVQ with the keys of :class:`ResidualVQ` (``vq.layers.{i}._codebook.*``).

    Args: as :class:`ResidualVQ` (Language-Codec: dim 128, n_q 8, codebook_size 1024,
    ``kmeans_iters=50``, ``detach_residual=True`` as its training loop subtracts the
    masked stages with ``.detach()``). Using ``n_q < 3`` keeps only the first masked codebooks.
    """

    def _stage_inputs(self, x: torch.Tensor, residual: torch.Tensor, index: int) -> torch.Tensor:
        if index < N_MASKED:
            start, stop = channel_bounds(x.shape[1])[index]
            return keep_channels(x, start, stop)
        return residual
