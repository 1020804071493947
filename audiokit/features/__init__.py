"""Mel / fbank front-ends with named presets, and an exact streaming wrapper.

The configuration part (:class:`FrontendConfig`, :data:`PRESETS`, :func:`get_preset`)
does not import torch; :class:`MelFrontend`, :class:`StreamingFrontend` and
:func:`preemphasize` are imported (with torch) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from audiokit.features.config import PRESETS, FrontendConfig, get_preset

_LAZY = {
    "MelFrontend": "audiokit.features.frontend",
    "preemphasize": "audiokit.features.frontend",
    "StreamingFrontend": "audiokit.features.streaming",
}

__all__ = ["PRESETS", "FrontendConfig", "MelFrontend", "StreamingFrontend", "get_preset",
           "preemphasize"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audiokit.features' has no attribute {name!r}")
