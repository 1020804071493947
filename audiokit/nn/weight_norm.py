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

The legacy style is audiokit's own :class:`WeightNormed` (not ``torch.nn.utils.weight_norm``,
which is deprecated and makes a module impossible to ``copy.deepcopy``): the layer keeps
its class's forward, stores ``weight_g``/``weight_v`` and computes ``weight`` on access.
:class:`WNConv1d`, :class:`WNConv2d`, :class:`WNConvTranspose1d` build such layers
directly (the discriminators use them); :func:`apply_weight_norm` turns an existing
layer into one. Either way a plain ``load_state_dict`` accepts all three key styles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


class WeightNormed:
    """Mixin for a layer whose ``weight`` is ``g * v / ||v||`` (legacy names ``weight_g``, ``weight_v``).

    ``g`` has the weight's shape with every dim but ``wn_dim`` set to 1; the norm is over
    every dim but ``wn_dim``. ``weight`` is computed on each access (the base class's
    forward reads it), so the module holds no derived tensor and deep-copies and pickles
    like any module. Loading also accepts ``parametrizations.weight.original0/1`` and a
    folded ``weight`` (split as ``g = ||w||``, ``v = w``).
    """

    wn_base: type  # the plain layer class (set on each subclass)
    wn_dim: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _split_weight(self, 0)  # type: ignore[arg-type]

    @property
    def weight(self) -> torch.Tensor:
        params = self._parameters  # type: ignore[attr-defined]
        if "weight_v" in params:
            return torch._weight_norm(params["weight_v"], params["weight_g"], self.wn_dim)
        if params.get("weight") is None:  # inside the base __init__, before the weight exists
            raise AttributeError("weight")
        return params["weight"]

    def folded_weight(self) -> torch.Tensor:
        """The effective weight ``g * v / ||v||`` (same as ``self.weight``)."""
        return self.weight

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        _to_legacy_keys(state_dict, prefix, self.wn_dim)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)  # type: ignore[misc]


_WN_CLASSES: dict[type, type] = {}


def weight_normed_class(base: type) -> type:
    """The :class:`WeightNormed` subclass of ``base`` (``WNConv1d`` for ``nn.Conv1d``), made once."""
    cls = _WN_CLASSES.get(base)
    if cls is None:
        name = "WN" + base.__name__
        cls = type(name, (WeightNormed, base), {"__module__": __name__, "__qualname__": name, "wn_base": base,
                                                "__doc__": f"``{base.__name__}`` with weight normalisation."})
        _WN_CLASSES[base] = cls
        globals().setdefault(name, cls)  # so that pickle finds it by name
    return cls


def _split_weight(module: nn.Module, dim: int) -> None:
    """Replace ``module.weight`` by ``weight_g`` (its norm) and ``weight_v`` (itself)."""
    w = module._parameters.pop("weight").detach()
    g, v = unfold_weight_norm(w, dim)
    module.wn_dim = dim
    module.register_parameter("weight_g", nn.Parameter(g))
    module.register_parameter("weight_v", nn.Parameter(v))


def _fold_weight(module: WeightNormed) -> None:
    """Undo :func:`_split_weight`: a plain layer of the base class with the effective weight."""
    w = module.weight.detach().clone()
    del module._parameters["weight_g"], module._parameters["weight_v"]  # type: ignore[attr-defined]
    module.__class__ = module.wn_base
    module.__dict__.pop("wn_dim", None)
    module.weight = nn.Parameter(w)


def _to_legacy_keys(state_dict: dict, prefix: str, dim: int) -> None:
    """Rename a parametrize-style pair, or split a folded ``weight``, into ``weight_g``/``weight_v``."""
    g_key, v_key = prefix + _G_LEGACY, prefix + _V_LEGACY
    if g_key in state_dict or v_key in state_dict:
        return
    if prefix + _G_PARAM in state_dict and prefix + _V_PARAM in state_dict:
        state_dict[g_key] = state_dict.pop(prefix + _G_PARAM)
        state_dict[v_key] = state_dict.pop(prefix + _V_PARAM)
    elif prefix + "weight" in state_dict:
        state_dict[g_key], state_dict[v_key] = unfold_weight_norm(state_dict.pop(prefix + "weight"), dim)


def apply_weight_norm(module: nn.Module, style: str = LEGACY, dim: int = 0) -> nn.Module:
    """Weight-normalise ``module.weight`` in the given ``style`` and return the module.

    ``style="legacy"`` registers ``weight_g``/``weight_v`` (the names in the released
    EnCodec-family checkpoints, which then load with no renaming); ``"parametrize"`` uses
    ``torch.nn.utils.parametrizations.weight_norm``.
    """
    if style == LEGACY:
        if isinstance(module, WeightNormed) or not isinstance(module._parameters.get("weight"), nn.Parameter):
            raise ValueError(f"{type(module).__name__} has no plain 'weight' parameter to weight-normalise")
        module.__class__ = weight_normed_class(type(module))
        _split_weight(module, dim)
        return module
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
        if isinstance(sub, WeightNormed):
            _fold_weight(sub)
        hook = _legacy_hook(sub)
        if hook is not None:
            torch.nn.utils.remove_weight_norm(sub, name=hook.name)
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module


def has_weight_norm(module: nn.Module) -> bool:
    """Whether any sub-module of ``module`` still carries a weight norm (either style)."""
    return any(
        isinstance(sub, WeightNormed) or _legacy_hook(sub) is not None or parametrize.is_parametrized(sub, "weight")
        for sub in module.modules()
    )


#: weight-normed layers, built directly: ``WNConv1d(c_in, c_out, kernel, ...)``, input ``(B, C_in, T)``
WNConv1d = weight_normed_class(nn.Conv1d)
#: input ``(B, C_in, H, W)``
WNConv2d = weight_normed_class(nn.Conv2d)
#: input ``(B, C_in, T)``
WNConvTranspose1d = weight_normed_class(nn.ConvTranspose1d)
