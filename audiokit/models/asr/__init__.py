"""Cache-aware streaming FastConformer ASR (CTC, RNN-T, hybrid); importing this imports torch.

* :mod:`~audiokit.models.asr.fastconformer`: front-end + Conformer encoder, multi-latency,
  exact streaming from raw audio chunks;
* :mod:`~audiokit.models.asr.heads`: CTC head, RNN-T prediction net and joint (NeMo names);
* :mod:`~audiokit.models.asr.model`: :class:`StreamingASR` (``transcribe``, ``init_state``, ``step``).
"""

from __future__ import annotations

from audiokit.models.asr.fastconformer import EncoderStream, FastConformerEncoder
from audiokit.models.asr.heads import CTCHead, RNNTDecoder, RNNTJoint
from audiokit.models.asr.model import ASRStreamState, StreamingASR

__all__ = ["ASRStreamState", "CTCHead", "EncoderStream", "FastConformerEncoder", "RNNTDecoder",
           "RNNTJoint", "StreamingASR"]
