"""audiokit.train.callbacks: RNG capture/restore and sampler position bookkeeping."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import torch

from audiokit.checkpoint import torch_load_safe
from audiokit.data.sampler import BucketBatchSampler
from audiokit.train.callbacks import RNGStateCallback, SamplerStateCallback, capture_rng_state, restore_rng_state


def _draw():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), [random.random() for _ in range(3)]


def test_rng_state_round_trip_through_weights_only_file(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    path = tmp_path / "rng.pt"
    torch.save(RNGStateCallback().state_dict(), path)
    expected = _draw()
    _draw()  # move every stream on
    cb = RNGStateCallback()
    cb.load_state_dict(torch_load_safe(path))
    cb.on_train_start(SimpleNamespace(world_size=1, global_rank=0), None)
    assert _draw() == expected


def test_restore_is_exact_for_numpy_gauss_cache():
    np.random.seed(0)
    np.random.randn()  # leaves a cached gaussian in the legacy state
    state = capture_rng_state()
    expected = np.random.randn(2).tolist()
    restore_rng_state(state)
    assert np.random.randn(2).tolist() == expected


def _trainer(sampler, epoch=0):
    return SimpleNamespace(datamodule=SimpleNamespace(train_batch_sampler=sampler), lightning_module=None,
                           current_epoch=epoch)


def test_sampler_callback_counts_consumed_batches_not_prefetched():
    sampler = BucketBatchSampler(list(range(1, 25)), batch_size=4, num_buckets=2, seed=1)
    cb = SamplerStateCallback()
    trainer = _trainer(sampler)
    cb.setup(trainer, None, "fit")
    it = iter(sampler)
    next(it), next(it), next(it)  # the loader ran ahead
    cb.on_train_batch_end(trainer)
    cb.on_train_batch_end(trainer)
    assert cb.state_dict() == {"sampler": {"epoch": 0, "consumed": 2, "seed": 1}}
    trainer.current_epoch = 1
    cb.on_train_batch_end(trainer)
    assert cb.state_dict()["sampler"]["epoch"] == 1 and cb.state_dict()["sampler"]["consumed"] == 1


def test_sampler_callback_restores_position():
    lengths = list(range(1, 25))
    ref = BucketBatchSampler(lengths, batch_size=4, num_buckets=2, seed=1)
    ref.set_epoch(2)
    expected = list(ref)[2:]
    sampler = BucketBatchSampler(lengths, batch_size=4, num_buckets=2, seed=1)
    cb = SamplerStateCallback()
    cb.setup(_trainer(sampler), None, "fit")
    cb.load_state_dict({"sampler": {"epoch": 2, "consumed": 2, "seed": 1}})
    assert list(sampler) == expected


def test_sampler_callback_saved_after_last_batch_moves_to_next_epoch():
    lengths = list(range(1, 25))
    sampler = BucketBatchSampler(lengths, batch_size=4, num_buckets=2, seed=1)
    cb = SamplerStateCallback()
    cb.setup(_trainer(sampler), None, "fit")
    cb.load_state_dict({"sampler": {"epoch": 0, "consumed": 6, "seed": 1}})  # 6 = the whole epoch
    ref = BucketBatchSampler(lengths, batch_size=4, num_buckets=2, seed=1)
    ref.set_epoch(1)
    assert (cb.epoch, cb.consumed) == (1, 0) and list(sampler) == list(ref)
