"""Flow-matching ODE sampling (F5-TTS ``CFM.sample``): time grids, sway sampling, CFG, noise.

The ODE ``dx/dt = v(x, t)`` runs from noise (``t = 0``) to data (``t = 1``) over a time grid:

* :func:`base_grid`: ``linspace(0, 1, nfe + 1)``, or with ``epss`` the Empirically Pruned Step
  Sampling grids of F5-TTS for NFE in :data:`EPSS_GRIDS` (steps on a 1/32 lattice);
* :func:`sway`: ``t' = t + s (cos(pi t / 2) - 1 + t)``; ``s < 0`` crowds the steps near the
  noise end (``s = -1``: ``t' = 1 - cos(pi t / 2)``);
* :func:`euler_solve` (or ``"midpoint"``): one velocity evaluation per step for Euler;
* :func:`cfg_combine`: classifier-free guidance ``v = v_c + w (v_c - v_u)``;
* :func:`initial_noise`: one standard-normal ``(T_i, C)`` draw per item, from its own seeded
  generator when a seed is given, so an item's result does not depend on the batch;
* :func:`estimate_duration` and :func:`bound_durations`: F5-TTS's length rules.

Nothing here knows the model: it receives a velocity function ``v(x, t) -> (B, T, C)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import torch

#: F5-TTS EPSS grids: NFE -> steps on a 1/32 lattice (``get_epss_timesteps``)
EPSS_GRIDS: dict[int, tuple[int, ...]] = {
    5: (0, 2, 4, 8, 16, 32),
    6: (0, 2, 4, 6, 8, 16, 32),
    7: (0, 2, 4, 6, 8, 16, 24, 32),
    10: (0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32),
    12: (0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32),
    16: (0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32),
}
METHODS = ("euler", "midpoint")

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def base_grid(nfe: int, epss: bool = False, dtype: torch.dtype = torch.float32,
              device: torch.device | str | None = None) -> torch.Tensor:
    """``(nfe + 1,)`` time points from 0 to 1: uniform, or the EPSS grid when ``epss`` and defined."""
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    if epss and nfe in EPSS_GRIDS:
        return torch.tensor(EPSS_GRIDS[nfe], dtype=dtype, device=device) / 32
    return torch.linspace(0, 1, nfe + 1, dtype=dtype, device=device)


def sway(t: torch.Tensor, coef: float) -> torch.Tensor:
    """Sway sampling ``t + coef (cos(pi t / 2) - 1 + t)`` (keeps 0 and 1 fixed)."""
    return t + coef * (torch.cos(math.pi / 2 * t) - 1 + t)


def time_grid(nfe: int, sway_coef: float | None = None, epss: bool = False,
              dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The sampling grid ``(nfe + 1,)``: :func:`base_grid` then :func:`sway` when ``sway_coef`` is set."""
    t = base_grid(nfe, epss, dtype, device)
    return t if sway_coef is None else sway(t, sway_coef)


def cfg_combine(v_cond: torch.Tensor, v_uncond: torch.Tensor, strength: float) -> torch.Tensor:
    """Classifier-free guidance: ``v_cond + strength (v_cond - v_uncond)``."""
    return v_cond + (v_cond - v_uncond) * strength


def euler_solve(velocity: Velocity, y0: torch.Tensor, grid: torch.Tensor, method: str = "euler",
                trajectory: bool = False) -> torch.Tensor:
    """Integrate ``dy/dt = velocity(y, t)`` over ``grid``; returns ``y(grid[-1])``.

    ``method``: ``"euler"`` (``y += dt v(y, t0)``) or ``"midpoint"``. With ``trajectory`` the
    result is ``(len(grid), *y0.shape)`` with every intermediate state.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    y, states = y0, [y0]
    for t0, t1 in itertools.pairwise(grid):
        dt = t1 - t0
        v = velocity(y, t0)
        if method == "midpoint":
            v = velocity(y + dt / 2 * v, t0 + dt / 2)
        y = y + dt * v
        if trajectory:
            states.append(y)
    return torch.stack(states) if trajectory else y


def initial_noise(durations: Sequence[int] | torch.Tensor, channels: int,
                  seed: int | Sequence[int] | None = None, generator: torch.Generator | None = None,
                  dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(B, max(durations), channels)`` noise, zero beyond each item's duration.

    ``seed``: one int (every item seeded alike, as F5-TTS) or one per item; each item then
    draws from its own CPU generator (the global RNG is untouched). Without a seed items
    draw in turn from ``generator`` (or the global RNG).
    """
    durations = [int(d) for d in durations]
    seeds: list[int | None]
    if seed is None:
        seeds = [None] * len(durations)
    elif isinstance(seed, int):
        seeds = [seed] * len(durations)
    else:
        seeds = [int(s) for s in seed]
        if len(seeds) != len(durations):
            raise ValueError(f"{len(seeds)} seeds for a batch of {len(durations)}")
    out = torch.zeros(len(durations), max(durations), channels, dtype=dtype)
    for i, (dur, s) in enumerate(zip(durations, seeds)):
        gen = torch.Generator().manual_seed(s) if s is not None else generator
        out[i, :dur] = torch.randn(dur, channels, generator=gen, dtype=dtype)
    return out.to(device)


def estimate_duration(ref_frames: int, ref_text: str, gen_text: str, speed: float = 1.0,
                      short_bytes: int = 10, short_speed: float = 0.3) -> int:
    """Total frames (prompt + generated) from the prompt's speech rate (F5-TTS ``infer_process``).

    ``ref_frames + int(ref_frames / len_utf8(ref_text) * len_utf8(gen_text) / speed)``; texts
    shorter than ``short_bytes`` UTF-8 bytes use ``short_speed`` instead of ``speed``.
    """
    ref_len = len(ref_text.encode("utf-8"))
    gen_len = len(gen_text.encode("utf-8"))
    if ref_len == 0:
        raise ValueError("the reference text is empty: cannot estimate the speech rate")
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    local_speed = short_speed if gen_len < short_bytes else speed
    return ref_frames + int(ref_frames / ref_len * gen_len / local_speed)


def bound_durations(durations: torch.Tensor, text_lens: torch.Tensor, ref_lens: torch.Tensor,
                    max_duration: int = 65536) -> torch.Tensor:
    """At least ``max(text_len, ref_len) + 1`` frames (something is generated), at most ``max_duration``."""
    floor = torch.maximum(text_lens, ref_lens) + 1
    return torch.maximum(floor, durations).clamp(max=max_duration)
