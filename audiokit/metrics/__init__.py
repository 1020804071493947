"""Objective quality metrics for codecs and vocoders (scoring stages, validation).

Importing this package is light (numpy only); torch, pesq and pystoi are imported by
the functions that need them.
"""

from __future__ import annotations

from audiokit.metrics.audio import (
    align,
    codebook_usage,
    mel_distance,
    pesq_wb,
    stoi,
)

__all__ = ["align", "codebook_usage", "mel_distance", "pesq_wb", "stoi"]
