"""Shared HiFi-Codec test helpers: deterministic weights, official key layout, fixture files.

Weights come from a closed-form float64 sine hash (no random generator state), so the
reference outputs in ``data/hificodec_reference.safetensors`` (written by
``data/make_hificodec_reference.py`` from the AcademiCodec code) can be reproduced anywhere.

:func:`official_key_shapes` writes down the released checkpoint layout (codecs.md §3.5) from
the architecture arithmetic alone, without looking at audiokit's modules, so checkpoints
written with it test the loader against the official layout rather than against itself.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "hificodec_reference.safetensors"

#: the release configurations (AcademiCodec egs/HiFi-Codec-*/config_*.json)
V1 = dict(upsample_initial_channel=512, resblock_kernel_sizes=[3, 7, 11],
          resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], n_code_groups=2, n_codes=1024)
RELEASES = {
    "16k_320d": dict(sampling_rate=16000, upsample_rates=[8, 5, 4, 2], upsample_kernel_sizes=[16, 11, 8, 4], **V1),
    "24k_240d": dict(sampling_rate=24000, upsample_rates=[8, 5, 3, 2], upsample_kernel_sizes=[16, 11, 7, 4], **V1),
    "24k_320d": dict(sampling_rate=24000, upsample_rates=[8, 5, 4, 2], upsample_kernel_sizes=[16, 11, 8, 4], **V1),
}
#: reference-parity configurations: the full 16k/320 release, and a reduced hop-240 model
#: (narrow generator, one resblock kernel, 4 groups of 256 codes) that the reference also builds
PARITY = {
    "16k_320d": (RELEASES["16k_320d"], 2, 3323),
    "24k_240d_small": (dict(RELEASES["24k_240d"], upsample_initial_channel=64, resblock_kernel_sizes=[3],
                            resblock_dilation_sizes=[[1, 3, 5]], n_code_groups=4, n_codes=256), 1, 2477),
}
CODEBOOK_SCALE = 2.0
#: the three top-level entries of a released file
GROUPS_ORDER = ("encoder", "generator", "quantizer")


def hash_uniform(n: int, seed: int) -> np.ndarray:
    """``n`` deterministic pseudo-random floats in [0, 1) (float64 sine hash)."""
    k = np.arange(n, dtype=np.float64)
    return np.modf(np.abs(np.sin(k * 12.9898 + seed * 78.233)) * 43758.5453)[0]


def _values(key: str, n: int, seed: int) -> np.ndarray:
    h = hash_uniform(n, seed)
    if key.endswith("weight_g"):
        return 0.3 + 0.7 * h
    if key.endswith("embedding.weight"):
        return (h - 0.5) * 2 * CODEBOOK_SCALE
    if ".normalize." in key:
        return 1.0 + (h - 0.5) * 0.2 if key.endswith("weight") else (h - 0.5) * 0.1
    if key.endswith("bias"):
        return (h - 0.5) * 0.1
    return (h - 0.5) * 0.6


def fixture_state_dict(keys_shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Weights for every key (scaled by kind), seeded by the key's sorted position."""
    out = {}
    for i, key in enumerate(sorted(keys_shapes)):
        shape = tuple(keys_shapes[key])
        n = int(np.prod(shape)) if shape else 1
        out[key] = torch.from_numpy(_values(key, n, i + 1)).float().reshape(shape)
    return out


def fixture_input(batch: int, length: int, seed: int = 7) -> torch.Tensor:
    """``(batch, 1, length)`` audio-like input in (-0.6, 0.6): two sines plus hash noise."""
    t = np.arange(length, dtype=np.float64)
    rows = []
    for b in range(batch):
        tone = 0.3 * np.sin(2 * np.pi * (0.011 + 0.004 * b) * t) + 0.15 * np.sin(2 * np.pi * 0.0523 * t + b)
        rows.append(tone + (hash_uniform(length, seed + b) - 0.5) * 0.2)
    return torch.from_numpy(np.stack(rows)).float().unsqueeze(1)


# --------------------------------------------------------------------------- official layout
def _wn(prefix: str, v_shape: tuple[int, ...], bias: int, transposed: bool = False) -> dict[str, tuple]:
    g_dim = v_shape[0]  # weight norm over dim 0: C_out for Conv1d, C_in for ConvTranspose1d
    return {f"{prefix}.bias": (bias,), f"{prefix}.weight_g": (g_dim, 1, 1), f"{prefix}.weight_v": v_shape}


def _resblocks(ch_per_stage, kernels, dilations) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for i, ch in enumerate(ch_per_stage):
        for j, (k, dil) in enumerate(zip(kernels, dilations)):
            for conv in ("convs1", "convs2"):
                for n in range(len(dil)):
                    out.update(_wn(f"resblocks.{i * len(kernels) + j}.{conv}.{n}", (ch, ch, k), ch))
    return out


def official_key_shapes(cfg: dict, latent: int = 512, enc_base: int = 32) -> dict[str, dict[str, tuple]]:
    """``{'generator', 'encoder', 'quantizer'}`` -> key -> shape of a released file (codecs.md §3.5)."""
    rates, kernels = cfg["upsample_rates"], cfg["upsample_kernel_sizes"]
    rbk, rbd, uic = cfg["resblock_kernel_sizes"], cfg["resblock_dilation_sizes"], cfg["upsample_initial_channel"]
    gen_ch = [uic // 2 ** (i + 1) for i in range(len(rates))]
    gen = _wn("conv_pre", (uic, latent, 7), uic)
    for i, k in enumerate(kernels):
        gen.update(_wn(f"ups.{i}", (2 * gen_ch[i], gen_ch[i], k), gen_ch[i]))
    gen.update(_resblocks(gen_ch, rbk, rbd))
    gen.update(_wn("conv_post", (1, gen_ch[-1], 7), 1))
    enc_ch = [enc_base * 2 ** (i + 1) for i in range(len(rates))]
    enc = _wn("conv_pre", (enc_base, 1, 7), enc_base)
    for i, k in enumerate(kernels[::-1]):
        enc.update(_wn(f"ups.{i}", (enc_ch[i], enc_ch[i] // 2, k), enc_ch[i]))
    enc.update(_resblocks(enc_ch, rbk[::-1], rbd[::-1]))
    for i, ch in enumerate(enc_ch):
        for j in range(len(rbk)):
            enc[f"normalize.{i * len(rbk) + j}.weight"] = (ch,)
            enc[f"normalize.{i * len(rbk) + j}.bias"] = (ch,)
    enc["conv_post.weight"], enc["conv_post.bias"] = (latent, enc_ch[-1], 3), (latent,)
    groups, dim = cfg["n_code_groups"], latent // cfg["n_code_groups"]
    quant = {f"{name}.{g}.embedding.weight": (cfg["n_codes"], dim)
             for name in ("quantizer_modules", "quantizer_modules2") for g in range(groups)}
    return {"generator": gen, "encoder": enc, "quantizer": quant}


def official_checkpoint(shapes: dict[str, dict[str, tuple]]) -> dict[str, OrderedDict]:
    """A released-layout object: three OrderedDicts of fixture weights (keys prefixed while hashing)."""
    flat = {f"{group}.{k}": s for group, keys in shapes.items() for k, s in keys.items()}
    weights = fixture_state_dict(flat)
    return {group: OrderedDict((k, weights[f"{group}.{k}"]) for k in keys) for group, keys in shapes.items()}


def load_fixture() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(FIXTURE), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
