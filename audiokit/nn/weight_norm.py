"""Weight normalisation: build, fold, and load state dicts in any key style.

Released checkpoints store weight-normed layers in one of three ways:

* legacy ``torch.nn.utils.weight_norm``: ``<prefix>.weight_g`` and ``<prefix>.weight_v``
  (EnCodec, Language-Codec, WavTokenizer, HiFi-Codec);
* ``torch.nn.utils.parametrizations.weight_norm``:
  ``<prefix>.parametrizations.weight.original0`` (g) and ``...original1`` (v);
* folded: a plain ``<prefix>.weight`` with ``w = g * v / ||v||`` (norm over every dim but 0).

:func:`adapt_weight_norm_keys` rewrites a state dict from any of these styles into the
style a given module expects, so :func:`load_state_dict_any_style` loads all of them into
any audiokit module, whether it was built with the legacy hook, the parametrization, or
folded for inference by :func:`remove_weight_norm`.
"""

from __future__ import annotations

import warnings
from typing import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.weight_norm import WeightNorm as _LegacyWeightNorm

LEGACY = "legacy"
PARAMETRIZE = "parametrize"
STYLES = (LEGACY, PARAMETRIZE)

_G_LEGACY, _V_LEGACY = "weight_g", "weight_v"
_G_PARAM = "parametrizations.weight.original0"
_V_PARAM = "parametrizations.weight.original1"


def apply_weight_norm(module: nn.Module, style: str = LEGACY, dim: int = 0) -> nn.Module:
    """Weight-normalise ``module.weight`` in the given ``style`` and return the module.

    ``style="legacy"`` registers ``weight_g``/``weight_v`` (the names in the released
    EnCodec-family checkpoints, which then load with no renaming); ``"parametrize"`` uses
    ``torch.nn.utils.parametrizations.weight_norm``.
    """
    if style == LEGACY:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*weight_norm.*deprecated", category=FutureWarning)
            return torch.nn.utils.weight_norm(module, name="weight", dim=dim)
    if style == PARAMETRIZE:
        return torch.nn.utils.parametrizations.weight_norm(module, name="weight", dim=dim)
    raise ValueError(f"unknown weight-norm style {style!r}; expected one of {STYLES}")


def norm_except_dim(v: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """L2 norm of ``v`` over every dimension except ``dim``, kept broadcastable to ``v``."""
    if dim < 0:
        dim += v.dim()
    dims = [d for d in range(v.dim()) if d != dim]
    return v.norm(p=2, dim=dims, keepdim=True)


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Fold a weight-norm pair into a plain weight: ``w = g * v / ||v||``.

    ``v`` has the weight's shape (e.g. ``(C_out, C_in, K)`` for Conv1d, ``(C_in, C_out, K)``
    for ConvTranspose1d) and ``g`` is ``v``'s shape with every dim but ``dim`` set to 1.
    """
    return v * (g / norm_except_dim(v, dim))


def unfold_weight_norm(w: torch.Tensor, dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a plain weight into ``(g, v)`` with ``g = ||w||`` and ``v = w``."""
    return norm_except_dim(w, dim).clone(), w.clone()


def _weight_norm_prefixes(keys: list[str]) -> dict[str, str]:
    """Map each weight-normed layer prefix (``"a.b."``) to its style, read from ``keys``."""
    found: dict[str, str] = {}
    for key in keys:
        for style, g_name in ((LEGACY, _G_LEGACY), (PARAMETRIZE, _G_PARAM)):
            if key.endswith(g_name) and (key == g_name or key.endswith("." + g_name)):
                found[key[: len(key) - len(g_name)]] = style
    return found


def _names(style: str) -> tuple[str, str]:
    return (_G_LEGACY, _V_LEGACY) if style == LEGACY else (_G_PARAM, _V_PARAM)


def adapt_weight_norm_keys(
    state_dict: Mapping[str, torch.Tensor], target_keys: list[str] | nn.Module
) -> dict[str, torch.Tensor]:
    """Rewrite the weight-norm entries of ``state_dict`` into the style of ``target_keys``.

    ``target_keys`` is a module or the keys of its state dict. For each layer the target
    stores as a g/v pair, a source pair in the other style is renamed and a folded source
    ``weight`` is split by :func:`unfold_weight_norm`. For each layer the target stores as
    a plain ``weight``, a source g/v pair is folded by :func:`fold_weight_norm`. Every other
    entry passes through unchanged.
    """
    if isinstance(target_keys, nn.Module):
        target_keys = list(target_keys.state_dict().keys())
    target_set = set(target_keys)
    target_wn = _weight_norm_prefixes(list(target_keys))
    source_wn = _weight_norm_prefixes(list(state_dict.keys()))
    out = dict(state_dict)
    for prefix, src_style in source_wn.items():
        g_key, v_key = (prefix + n for n in _names(src_style))
        known = prefix in target_wn or prefix + "weight" in target_set
        if not known or v_key not in out:
            continue  # not a layer of the target: leave it for load_state_dict to report
        g, v = out.pop(g_key), out.pop(v_key)
        if prefix in target_wn:
            tg, tv = _names(target_wn[prefix])
            out[prefix + tg], out[prefix + tv] = g, v
        else:
            out[prefix + "weight"] = fold_weight_norm(g, v)
    for prefix, style in target_wn.items():
        if prefix in source_wn or prefix + "weight" not in out:
            continue
        g, v = unfold_weight_norm(out.pop(prefix + "weight"))
        tg, tv = _names(style)
        out[prefix + tg], out[prefix + tv] = g, v
    return out


def load_state_dict_any_style(
    module: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
):
    """``module.load_state_dict`` after :func:`adapt_weight_norm_keys`; returns its result."""
    return module.load_state_dict(adapt_weight_norm_keys(state_dict, module), strict=strict)


def _legacy_hook(module: nn.Module):
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _LegacyWeightNorm):
            return hook
    return None


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight norm inside ``module`` (both styles) into a plain ``weight``.

    Use for inference: the output is unchanged and the forward pass skips the
    per-call renormalisation. Any other parametrization of ``weight`` (e.g. spectral
    norm) is folded too. Returns ``module`` (changed in place).
    """
    for sub in module.modules():
        hook = _legacy_hook(sub)
        if hook is not None:
            torch.nn.utils.remove_weight_norm(sub, name=hook.name)
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module


def has_weight_norm(module: nn.Module) -> bool:
    """Whether any sub-module of ``module`` still carries a weight norm (either style)."""
    return any(
        _legacy_hook(sub) is not None or parametrize.is_parametrized(sub, "weight")
        for sub in module.modules()
    )
