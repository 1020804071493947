"""Flow-matching sampler pieces: time grids (sway, EPSS), CFG, Euler, noise, duration rules."""

from __future__ import annotations

import math

import pytest
import torch

from audiokit.decoding.flow import (
    base_grid,
    bound_durations,
    cfg_combine,
    estimate_duration,
    euler_solve,
    initial_noise,
    sway,
    time_grid,
)


def test_sway_formula_and_endpoints():
    t = torch.linspace(0, 1, 9)
    assert torch.allclose(time_grid(8, -1.0), 1 - torch.cos(math.pi / 2 * t), atol=1e-6)
    s = 0.4
    assert torch.allclose(sway(t, s), t + s * (torch.cos(math.pi / 2 * t) - 1 + t))
    g = time_grid(8, -1.0)
    assert g[0] == 0 and g[-1] == pytest.approx(1.0) and bool((g.diff() > 0).all())
    assert g.diff()[0] < g.diff()[-1]  # denser near the noise end
    assert torch.equal(time_grid(8, None), t)


def test_epss_grids():
    assert torch.allclose(base_grid(16, epss=True),
                          torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32]) / 32)
    assert torch.allclose(base_grid(7, epss=True), torch.tensor([0, 2, 4, 6, 8, 16, 24, 32]) / 32)
    assert torch.equal(base_grid(4, epss=True), torch.linspace(0, 1, 5))  # not predefined
    with pytest.raises(ValueError):
        base_grid(0)


def test_cfg_combination():
    c, u = torch.tensor([1.0, 2.0]), torch.tensor([0.5, 3.0])
    assert torch.allclose(cfg_combine(c, u, 2.0), torch.tensor([2.0, 0.0]))
    assert torch.equal(cfg_combine(c, u, 0.0), c)


def test_euler_and_midpoint():
    grid = torch.linspace(0, 1, 5)
    y = euler_solve(lambda x, t: torch.full_like(x, 2.0), torch.zeros(3), grid)
    assert torch.allclose(y, torch.full((3,), 2.0))
    # dy/dt = t: Euler underestimates 1/2 by dt/2, midpoint is exact
    assert euler_solve(lambda x, t: t.expand_as(x), torch.zeros(1), grid).item() == pytest.approx(0.5 - 0.125)
    assert euler_solve(lambda x, t: t.expand_as(x), torch.zeros(1), grid, "midpoint").item() == pytest.approx(0.5)
    traj = euler_solve(lambda x, t: torch.ones_like(x), torch.zeros(1), grid, trajectory=True)
    assert traj.shape == (5, 1)


def test_noise_seeded_per_item_and_padded():
    a = initial_noise([5, 3], 4, seed=7)
    b = initial_noise([3], 4, seed=7)
    assert torch.equal(a[1, :3], b[0]) and torch.equal(a[0], initial_noise([5], 4, seed=7)[0])  # batch-independent
    assert torch.equal(a[1, 3:], torch.zeros(2, 4))
    torch.manual_seed(0)
    assert torch.equal(initial_noise([5], 4, seed=7)[0], (torch.manual_seed(7), torch.randn(5, 4))[1])
    c = initial_noise([5, 5], 4, seed=[1, 2])
    assert not torch.allclose(c[0], c[1])
    with pytest.raises(ValueError):
        initial_noise([5, 5], 4, seed=[1])


def test_duration_rule():
    # 100 prompt frames for 20 bytes of text -> 5 frames a byte
    assert estimate_duration(100, "a" * 20, "b" * 30) == 100 + 150
    assert estimate_duration(100, "a" * 20, "b" * 30, speed=2.0) == 100 + 75
    assert estimate_duration(100, "a" * 20, "hi") == 100 + int(5 * 2 / 0.3)  # short text: speed 0.3
    assert estimate_duration(100, "a" * 20, "\u4f60\u597d\u4e16\u754c") == 100 + 60  # UTF-8 bytes
    with pytest.raises(ValueError):
        estimate_duration(100, "", "x")
    got = bound_durations(torch.tensor([5, 50, 10**6]), torch.tensor([9, 9, 9]), torch.tensor([3, 3, 3]), 1000)
    assert got.tolist() == [10, 50, 1000]
