"""Tests of BucketBatchSampler: determinism, bucketing, DDP split, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiokit.data.sampler import BucketBatchSampler

LENGTHS = list(np.random.default_rng(0).uniform(0.5, 20.0, size=103))


def _flat(batches: list[list[int]]) -> list[int]:
    return [i for b in batches for i in b]


def test_deterministic_per_seed_and_epoch() -> None:
    a = BucketBatchSampler(LENGTHS, batch_size=8, seed=3)
    b = BucketBatchSampler(LENGTHS, batch_size=8, seed=3)
    assert list(a) == list(b)
    e0 = list(a)
    a.set_epoch(1)
    assert list(a) != e0
    assert list(BucketBatchSampler(LENGTHS, batch_size=8, seed=4)) != e0
    assert sorted(_flat(e0)) == list(range(len(LENGTHS)))  # every item exactly once
    assert len(a) == len(e0) == 20  # 10 buckets of 10-11 items: 2 batches each


def test_batches_hold_similar_lengths() -> None:
    s = BucketBatchSampler(LENGTHS, batch_size=10, num_buckets=10, shuffle=False)
    lens = np.asarray(LENGTHS)
    spread = np.mean([np.ptp(lens[b]) for b in s])
    assert spread < 0.25 * np.ptp(lens)
    rand = np.random.default_rng(1).permutation(len(LENGTHS))
    assert spread < np.mean([np.ptp(lens[rand[i:i + 10]]) for i in range(0, 100, 10)]) / 3


def test_max_total_bound() -> None:
    lengths = LENGTHS + [50.0]  # one item alone exceeds the budget
    s = BucketBatchSampler(lengths, max_total=60.0, seed=1)
    batches = list(s)
    assert sorted(_flat(batches)) == list(range(len(lengths)))
    for b in batches:
        assert sum(lengths[i] for i in b) <= 60.0 or len(b) == 1
    both = BucketBatchSampler(lengths, max_total=60.0, batch_size=3)
    assert all(len(b) <= 3 and (sum(lengths[i] for i in b) <= 60.0 or len(b) == 1) for b in both)


def test_drop_last_keeps_full_batches_only() -> None:
    s = BucketBatchSampler(LENGTHS, batch_size=4, drop_last=True, seed=2)
    assert all(len(b) == 4 for b in s)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("max_total", [None, 45.0])
def test_ddp_disjoint_equal_counts(drop_last: bool, max_total: float | None) -> None:
    kw = dict(batch_size=None if max_total else 8, max_total=max_total, seed=5,
              drop_last=drop_last, num_replicas=2)
    for epoch in range(3):
        ranks = []
        for r in range(2):
            s = BucketBatchSampler(LENGTHS, rank=r, **kw)
            s.set_epoch(epoch)
            ranks.append(list(s))
            assert len(s) == len(ranks[-1])
        assert len(ranks[0]) == len(ranks[1]) > 0
        a, b = set(_flat(ranks[0])), set(_flat(ranks[1]))
        assert not a & b
        if not drop_last:  # nothing lost: splitting evens the count out
            assert sorted(_flat(ranks[0]) + _flat(ranks[1])) == list(range(len(LENGTHS)))


def test_fewer_items_than_replicas_still_equal() -> None:
    counts = [len(list(BucketBatchSampler([1.0, 2.0], batch_size=4, num_replicas=3, rank=r)))
              for r in range(3)]
    assert counts == [1, 1, 1]


@pytest.mark.parametrize("consumed", [0, 1, 5, 13])
def test_resume_equals_uninterrupted(consumed: int) -> None:
    ref = BucketBatchSampler(LENGTHS, batch_size=8, seed=7)
    ref.set_epoch(2)
    full = list(ref)
    state = {"epoch": 2, "consumed": consumed, "seed": 7}
    resumed = BucketBatchSampler(LENGTHS, batch_size=8, seed=0)  # seed comes from the state
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # Lightning calls set_epoch with the same epoch: no reset
    rest = list(resumed)
    assert rest == full[consumed:]
    assert resumed.state_dict() == {"epoch": 2, "consumed": len(full), "seed": 7}
    resumed.set_epoch(3)
    assert resumed.state_dict()["consumed"] == 0
    ref.set_epoch(3)
    assert list(resumed) == list(ref)


def test_resume_skip_applies_once_and_counts() -> None:
    s = BucketBatchSampler(LENGTHS, batch_size=8, seed=1)
    full = list(s)
    s.load_state_dict({"epoch": 0, "consumed": 3, "seed": 1})
    it = iter(s)
    next(it), next(it)
    assert s.state_dict()["consumed"] == 5
    assert list(it) == full[5:]
    assert list(s) == full  # a later pass of the same epoch is complete again


def test_works_in_dataloader_and_validates_args() -> None:
    ds = torch.utils.data.TensorDataset(torch.arange(len(LENGTHS)))
    dl = torch.utils.data.DataLoader(ds, batch_sampler=BucketBatchSampler(LENGTHS, batch_size=16))
    seen = torch.cat([b[0] for b in dl])
    assert sorted(seen.tolist()) == list(range(len(LENGTHS)))
    with pytest.raises(ValueError):
        BucketBatchSampler(LENGTHS)
    with pytest.raises(ValueError):
        BucketBatchSampler(LENGTHS, batch_size=2, num_replicas=2, rank=2)
