"""One codebook family with two update rules.

* :class:`EMACodebook`: EnCodec's ``EuclideanCodebook`` rule (Language-Codec,
  WavTokenizer, EnCodec/Vocos): k-means initialisation, Laplace-smoothed EMA updates,
  dead-code expiry; the entries are buffers (``inited``, ``cluster_size``, ``embed``,
  ``embed_avg``) so released state dicts load directly.
* :class:`LearnedCodebook`: HiFi-Codec's ``Quantizer_module`` rule: an ``nn.Embedding``
  trained by gradient with VQ-VAE codebook + commitment losses.

Both take flattened rows ``x`` (N, D) and share the interface ``quantize(x) -> (N,)``,
``dequantize(codes) -> (..., D)``, ``straight_through(x, z)`` and
``forward(x) -> CodebookOutput``. Distances, arg-max/arg-min and the straight-through
arithmetic follow each reference op for op so codes are bit-identical (codecs.md §3.3, §4.2).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from audiokit.quantizers.base import CodebookOutput, all_reduce_mean_, broadcast_buffers, usage_stats
from audiokit.quantizers.kmeans import kmeans, sample_vectors


class EMACodebook(nn.Module):
    """Euclidean codebook updated by exponential moving averages.

    Args:
        dim: entry dimension D.
        codebook_size: number of entries K.
        kmeans_init: start from zeros with ``inited = 0`` and run k-means on the first batch
            seen by ``forward`` (train **or** eval, as the reference); otherwise Kaiming-uniform.
        kmeans_iters: Lloyd iterations of that k-means.
        decay: EMA decay (0.99).
        epsilon: Laplace smoothing constant (1e-5).
        threshold_ema_dead_code: entries whose EMA count is below this are expired each
            training step (0 disables).
        commitment_weight: weight of MSE(sg(q), x) in training.
        effective_dead_code: the reference writes the replacement rows into ``embed`` only,
            and the same step's EMA update overwrites them, so expiry changes nothing but the
            RNG state. ``False`` (default) keeps that for fidelity. ``True`` also resets the
            expired entries' statistics (``cluster_size = threshold``,
            ``embed_avg = row * threshold``) so the replacement survives.
        sync_ema: average the batch counts/sums over DDP workers before the EMA update
            (the reference does not; default ``False``).
        consistent_init: the reference's k-means sets ``embed_avg = means`` next to
            ``cluster_size = counts`` (see below). ``False`` (default) keeps that. ``True`` sets
            ``embed_avg = means * counts`` so the first EMA step keeps the k-means entries; use
            it when a first batch has fewer rows than entries: an empty cluster's entry is
            otherwise divided by the smoothing epsilon (norm ~1e4) and never chosen again.

    Reference quirk kept for fidelity: k-means sets ``embed_avg = means`` while
    ``cluster_size = counts``, so the first training step scales every entry by about
    1/count; the EMA recovers over the next ~1/(1-decay) steps.
    """

    def __init__(self, dim: int, codebook_size: int, *, kmeans_init: bool = True, kmeans_iters: int = 50,
                 decay: float = 0.99, epsilon: float = 1e-5, threshold_ema_dead_code: float = 2,
                 commitment_weight: float = 1.0, effective_dead_code: bool = False,
                 sync_ema: bool = False, consistent_init: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.codebook_size = codebook_size
        self.kmeans_iters = kmeans_iters
        self.decay = decay
        self.epsilon = epsilon
        self.threshold_ema_dead_code = threshold_ema_dead_code
        self.commitment_weight = commitment_weight
        self.effective_dead_code = effective_dead_code
        self.sync_ema = sync_ema
        self.consistent_init = consistent_init
        embed = torch.zeros(codebook_size, dim)
        if not kmeans_init:
            nn.init.kaiming_uniform_(embed)
        self.register_buffer("inited", torch.tensor([0.0 if kmeans_init else 1.0]))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (N,) of rows ``x`` (N, D): argmax of -(|x|^2 - 2 x E^T + |E|^2)."""
        x = x.to(self.embed.dtype)
        embed_t = self.embed.t()
        dist = -(x.pow(2).sum(1, keepdim=True) - 2 * x @ embed_t + embed_t.pow(2).sum(0, keepdim=True))
        return dist.max(dim=-1).indices

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Entries for ``codes`` (...) -> (..., D)."""
        return F.embedding(codes, self.embed)

    def straight_through(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Training: x + sg(z - x); eval: the plain lookup ``z``."""
        return x + (z - x).detach() if self.training else z

    def dead_mask(self) -> torch.Tensor:
        """(K,) bool: entries whose EMA count is below ``threshold_ema_dead_code``."""
        return self.cluster_size < self.threshold_ema_dead_code

    @torch.no_grad()
    def init_from_kmeans_(self, x: torch.Tensor) -> None:
        """Run k-means on rows ``x`` (N, D) and set the buffers, unless already ``inited``."""
        if bool(self.inited.item()):
            return
        means, bins = kmeans(x.to(self.embed.dtype), self.codebook_size, self.kmeans_iters)
        self.embed.copy_(means)
        self.embed_avg.copy_(means * bins.unsqueeze(1) if self.consistent_init else means)
        self.cluster_size.copy_(bins)
        self.inited.fill_(1.0)
        broadcast_buffers(self)

    @torch.no_grad()
    def expire_codes_(self, x: torch.Tensor) -> None:
        """Replace entries whose EMA count is below the threshold by random rows of ``x`` (N, D)."""
        if self.threshold_ema_dead_code <= 0:
            return
        dead = self.dead_mask()
        if not bool(dead.any()):
            return
        rows = sample_vectors(x, self.codebook_size)
        self.embed.copy_(torch.where(dead.unsqueeze(1), rows, self.embed))
        if self.effective_dead_code:
            threshold = float(self.threshold_ema_dead_code)
            self.cluster_size.masked_fill_(dead, threshold)
            self.embed_avg.copy_(torch.where(dead.unsqueeze(1), rows * threshold, self.embed_avg))
        broadcast_buffers(self)

    @torch.no_grad()
    def ema_update_(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step from rows ``x`` (N, D) assigned to ``codes`` (N,), then Laplace smoothing."""
        onehot = F.one_hot(codes, self.codebook_size).to(x.dtype)
        counts = onehot.sum(0)
        sums = onehot.t() @ x
        if self.sync_ema:
            all_reduce_mean_(counts)
            all_reduce_mean_(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> CodebookOutput:
        """Quantize rows ``x`` (N, D); in training also update the codebook.

        Codes and the returned lookup use the codebook as it was before this batch's update.
        """
        self.init_from_kmeans_(x.detach())
        codes = self.quantize(x.detach())
        z = self.dequantize(codes)
        dead = self.dead_mask().sum()
        if self.threshold_ema_dead_code <= 0:
            dead = torch.zeros_like(dead)
        if self.training:
            rows = x.detach().to(self.embed.dtype)
            self.expire_codes_(rows)
            self.ema_update_(rows, codes)
        quantized = self.straight_through(x, z)
        loss = x.new_zeros(())
        if self.training and self.commitment_weight > 0:
            loss = loss + F.mse_loss(quantized.detach(), x) * self.commitment_weight
        return CodebookOutput(quantized, codes, loss, usage_stats(codes, self.codebook_size, dead))

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, codebook_size={self.codebook_size}, decay={self.decay}, "
                f"kmeans_iters={self.kmeans_iters}, threshold_ema_dead_code={self.threshold_ema_dead_code}")


class LearnedCodebook(nn.Module):
    """Gradient-trained codebook (``nn.Embedding``, HiFi-Codec ``Quantizer_module``).

    Args:
        dim: entry dimension D.
        codebook_size: number of entries K; initialised uniform(-1/K, 1/K).
        codebook_weight: weight of mean((z - sg(x))^2) (1.0).
        commitment_weight: weight of mean((sg(z) - x)^2) (0.25).

    The straight-through ``x + sg(z - x)`` is applied in eval too, as the reference does,
    so downstream residuals see exactly its arithmetic.
    """

    def __init__(self, dim: int, codebook_size: int, *, codebook_weight: float = 1.0,
                 commitment_weight: float = 0.25) -> None:
        super().__init__()
        self.dim = dim
        self.codebook_size = codebook_size
        self.codebook_weight = codebook_weight
        self.commitment_weight = commitment_weight
        self.embedding = nn.Embedding(codebook_size, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / codebook_size, 1.0 / codebook_size)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (N,) of rows ``x`` (N, D): argmin of |x|^2 + |e|^2 - 2 x e^T (first minimum)."""
        weight = self.embedding.weight
        dist = torch.sum(x ** 2, 1, keepdim=True) + torch.sum(weight ** 2, 1) - 2 * torch.matmul(x, weight.t())
        return torch.argmin(dist, 1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Entries for ``codes`` (...) -> (..., D)."""
        return self.embedding(codes)

    def straight_through(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x + sg(z - x), in train and eval alike."""
        return x + (z - x).detach()

    def forward(self, x: torch.Tensor) -> CodebookOutput:
        """Quantize rows ``x`` (N, D); the loss is computed in train and eval."""
        codes = self.quantize(x)
        z = self.dequantize(codes)
        loss = (self.codebook_weight * torch.mean((z - x.detach()) ** 2)
                + self.commitment_weight * torch.mean((z.detach() - x) ** 2))
        return CodebookOutput(self.straight_through(x, z), codes, loss, usage_stats(codes, self.codebook_size))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, codebook_size={self.codebook_size}"


CODEBOOKS = {"ema": EMACodebook, "learned": LearnedCodebook}


def make_codebook(kind: str, dim: int, codebook_size: int, **kwargs) -> nn.Module:
    """Build a codebook by rule name: ``"ema"`` or ``"learned"``; ``kwargs`` go to its constructor."""
    if kind not in CODEBOOKS:
        raise ValueError(f"unknown codebook kind {kind!r}; choose one of {sorted(CODEBOOKS)}")
    return CODEBOOKS[kind](dim, codebook_size, **kwargs)
