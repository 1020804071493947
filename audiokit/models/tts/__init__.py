"""Text-to-speech models: F5-TTS (flow matching) and the Vocos mel vocoder.

Importing this sub-package imports torch.
"""

from __future__ import annotations

from audiokit.models.tts.f5tts import F5TTS
from audiokit.models.tts.f5tts_backbone import F5DiT, TextEmbedding
from audiokit.models.tts.f5tts_text import F5Vocab, text_to_tokens
from audiokit.models.tts.vocoder import VocosVocoder

__all__ = ["F5TTS", "F5DiT", "F5Vocab", "TextEmbedding", "VocosVocoder", "text_to_tokens"]
