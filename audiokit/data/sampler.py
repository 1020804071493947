"""Length-bucketed, DDP-aware, resumable batch sampler.

Each epoch's plan is a pure function of ``(lengths, seed, epoch, settings,
num_replicas)``:

1. items are sorted by length and cut into ``num_buckets`` buckets of (nearly)
   equal count, so a batch holds items of similar length (little padding);
2. inside each bucket the items are shuffled (seeded by ``(seed, epoch)``) and
   packed into batches of ``batch_size`` items and/or at most ``max_total``
   summed length (an item longer than ``max_total`` gets a batch of its own);
3. the order of all batches is shuffled;
4. the list is made a multiple of ``num_replicas``: with ``drop_last`` the tail is
   dropped; otherwise the largest batches are split in two (so every item is
   still seen exactly once), and only when there are fewer items than replicas
   are batches repeated;
5. rank ``r`` takes batches ``r, r + R, r + 2R, ...``: ranks get disjoint
   batches and the same number of them, so DDP never hangs on an uneven epoch.

Resuming: the trainer counts the batches it consumed (the data loader prefetches,
so the sampler cannot know) and restores ``{"epoch": e, "consumed": n}`` with
:meth:`BucketBatchSampler.load_state_dict`; the next iteration of epoch ``e``
skips the first ``n`` batches of this rank and yields exactly the rest.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch


def _default_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``(num_replicas, rank)``, defaulting to torch.distributed when it is initialised."""
    dist = torch.distributed
    initialised = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialised else 1
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"invalid rank {rank} for num_replicas {num_replicas}")
    return num_replicas, rank


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Yield lists of dataset indices, bucketed by ``lengths`` (see the module doc).

    Args:
        lengths: one length per item (seconds, frames, tokens: any unit).
        batch_size: most items per batch.
        max_total: most summed length per batch (same unit as ``lengths``).
        num_buckets: number of equal-count length buckets.
        shuffle: shuffle inside buckets and the batch order (else sorted, deterministic).
        seed: base seed; the plan of epoch ``e`` depends only on ``(seed, e)``.
        drop_last: drop incomplete ``batch_size`` batches and the tail that does not
            divide among replicas.
        num_replicas, rank: DDP layout; default from ``torch.distributed`` or 1/0.
    """

    def __init__(
        self,
        lengths: Sequence[float],
        *,
        batch_size: int | None = None,
        max_total: float | None = None,
        num_buckets: int = 10,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if batch_size is None and max_total is None:
            raise ValueError("give batch_size, max_total or both")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_total is not None and max_total <= 0:
            raise ValueError(f"max_total must be > 0, got {max_total}")
        if num_buckets < 1:
            raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
        self.lengths = np.asarray(lengths, dtype=np.float64).reshape(-1)
        if len(self.lengths) == 0:
            raise ValueError("lengths is empty")
        self.batch_size = batch_size
        self.max_total = max_total
        self.num_buckets = min(num_buckets, len(self.lengths))
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.num_replicas, self.rank = _default_replicas(num_replicas, rank)
        self.epoch = 0
        self.consumed = 0
        self._skip = 0
        self._cache: tuple[tuple[int, int], list[list[int]]] | None = None
        order = np.argsort(self.lengths, kind="stable")
        self._buckets = [b.tolist() for b in np.array_split(order, self.num_buckets)]

    # ------------------------------------------------------------------ plan
    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed & 0xFFFFFFFF, self.epoch]))

    def _pack(self, items: list[int]) -> list[list[int]]:
        """Greedy batches of one bucket under ``batch_size`` and ``max_total``."""
        batches: list[list[int]] = []
        cur: list[int] = []
        total = 0.0
        for i in items:
            length = float(self.lengths[i])
            full = self.batch_size is not None and len(cur) >= self.batch_size
            over = self.max_total is not None and cur and total + length > self.max_total
            if full or over:
                batches.append(cur)
                cur, total = [], 0.0
            cur.append(i)
            total += length
        if cur:
            batches.append(cur)
        if self.drop_last and self.batch_size is not None and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def _all_batches(self) -> list[list[int]]:
        """Every batch of the current epoch, in order, before splitting among ranks."""
        rng = self._rng()
        batches: list[list[int]] = []
        for bucket in self._buckets:
            items = list(bucket)
            if self.shuffle:
                items = [items[j] for j in rng.permutation(len(items))]
            batches.extend(self._pack(items))
        if self.shuffle:
            batches = [batches[j] for j in rng.permutation(len(batches))]
        return batches

    def _even_out(self, batches: list[list[int]]) -> list[list[int]]:
        """Make the batch count a multiple of ``num_replicas`` (module doc, step 4)."""
        r = self.num_replicas
        if r == 1 or len(batches) % r == 0:
            return batches
        if self.drop_last:
            return batches[: len(batches) - len(batches) % r]
        batches = list(batches)
        while len(batches) % r:
            sizes = [len(b) for b in batches]
            big = int(np.argmax(sizes))
            if sizes[big] < 2:
                break
            half = sizes[big] // 2
            batches[big : big + 1] = [batches[big][:half], batches[big][half:]]
        k = 0
        while len(batches) % r:  # fewer items than replicas: repeat batches
            batches.append(list(batches[k]))
            k += 1
        return batches

    def rank_batches(self) -> list[list[int]]:
        """This rank's full batch list for the current epoch (cached per epoch)."""
        key = (self.seed, self.epoch)
        if self._cache is None or self._cache[0] != key:
            plan = self._even_out(self._all_batches())
            self._cache = (key, plan[self.rank :: self.num_replicas])
        return self._cache[1]

    # ------------------------------------------------------------ interface
    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose plan the next iteration yields; a new epoch resets ``consumed``."""
        if epoch != self.epoch:
            self.consumed = 0
            self._skip = 0
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.rank_batches()
        start = min(self._skip, len(batches))
        self._skip = 0
        self.consumed = start
        for batch in batches[start:]:
            self.consumed += 1
            yield list(batch)

    def __len__(self) -> int:
        """Batches this rank yields in a full pass of the current epoch."""
        return len(self.rank_batches())

    def state_dict(self) -> dict:
        """``{"epoch", "consumed", "seed"}``; ``consumed`` counts batches yielded so far
        in this epoch, which overcounts under prefetching: the trainer overwrites it."""
        return {"epoch": self.epoch, "consumed": self.consumed, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore a position: the next iteration of ``state["epoch"]`` skips ``consumed`` batches."""
        self.seed = int(state.get("seed", self.seed))
        self.epoch = int(state["epoch"])
        self.consumed = int(state.get("consumed", 0))
        self._skip = self.consumed
