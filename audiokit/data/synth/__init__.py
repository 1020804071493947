"""Offline synthetic corpora: TTS speech with exact transcripts, and rendered MIDI music.

Everything is built from Debian packages (espeak-ng, flite, festival, sox, fluidsynth,
wordnet-base, timgm6mb-soundfont) without any download, deterministically from a seed.
Importing this package is light (no torch); the builders import what they need.
"""

from __future__ import annotations

from audiokit.data.synth.corpus import SIZES, Size, build_mini_synth
from audiokit.data.synth.music import build_music

__all__ = ["SIZES", "Size", "build_mini_synth", "build_music"]
