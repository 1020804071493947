"""k-means used to initialise EMA codebooks from the first batch.

Behaviour follows EnCodec's codebook initialisation (codecs.md §4.2): K rows drawn from
the batch (a random permutation when there are enough rows, uniform draws with
replacement otherwise), then Lloyd iterations in which empty clusters keep their old
mean. The random draws use the same torch RNG calls as the reference so a seeded run
starts from the same rows, and assignments use the same distance, the argmax of
-sum((x - m)^2), so a seeded run reaches the same centroids. The (N, K, D) difference
tensor is built in row chunks to bound memory (the reference builds it whole, which
does not fit at K=4096, D=512).
"""

from __future__ import annotations

import torch

_CHUNK_ELEMENTS = 1 << 25  # at most this many elements of (rows, K, D) differences at once


def sample_vectors(samples: torch.Tensor, num: int) -> torch.Tensor:
    """Draw ``num`` rows of ``samples`` (N, D) -> (num, D).

    Without replacement (``randperm``) when N >= num, else uniformly with replacement.
    """
    n_rows = samples.shape[0]
    if n_rows >= num:
        index = torch.randperm(n_rows, device=samples.device)[:num]
    else:
        index = torch.randint(0, n_rows, (num,), device=samples.device)
    return samples[index]


def nearest(samples: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """Index of the closest row of ``means`` (K, D) for each row of ``samples`` (N, D) -> (N,).

    Distances are -sum((x - m)^2) and the first maximum wins, as in the reference.
    """
    num, dim = means.shape
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // max(1, num * dim))
    out = []
    for chunk in samples.split(rows_per_chunk):
        dist = -(chunk.unsqueeze(1) - means.unsqueeze(0)).pow(2).sum(dim=-1)
        out.append(dist.max(dim=-1).indices)
    return torch.cat(out) if out else samples.new_zeros(0, dtype=torch.long)


def kmeans(samples: torch.Tensor, num_clusters: int, num_iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on ``samples`` (N, D).

    Returns:
        means (K, D) and bins (K,) long: the cluster sizes of the last assignment (made
        before the last mean update, as in the reference).
    """
    means = sample_vectors(samples, num_clusters)
    bins = None
    for _ in range(num_iters):
        assign = nearest(samples, means)
        bins = torch.bincount(assign, minlength=num_clusters)
        sums = torch.zeros_like(means).index_add_(0, assign, samples)
        new_means = sums / bins.clamp(min=1).unsqueeze(1).to(samples.dtype)
        means = torch.where((bins == 0).unsqueeze(1), means, new_means)
    if bins is None:
        bins = torch.bincount(nearest(samples, means), minlength=num_clusters)
    return means, bins
