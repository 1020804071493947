"""Search over model outputs: CTC (greedy, prefix beam) and RNN-T (greedy, beam).

Every decoder takes the blank index explicitly (audiokit tokenizers and NeMo: the
last class, ``tokenizer.blank_id``; ESPnet/OWSM-CTC: 0) and works on batches with
valid lengths. Streaming decoders return a state that the next chunk continues;
chunk-by-chunk results equal whole-sequence results. This package imports torch;
``import audiokit`` does not import it.
"""

from __future__ import annotations

from audiokit.decoding.ctc import (
    CTCBeamState,
    CTCGreedyStream,
    CTCHypothesis,
    ctc_greedy,
    ctc_prefix_beam,
)
from audiokit.decoding.rnnt import (
    RNNTGreedyState,
    Transducer,
    rnnt_greedy,
    rnnt_greedy_decode,
)
from audiokit.decoding.rnnt_beam import RNNTBeamState, RNNTHypothesis, rnnt_beam

__all__ = [
    "CTCBeamState",
    "CTCGreedyStream",
    "CTCHypothesis",
    "RNNTBeamState",
    "RNNTGreedyState",
    "RNNTHypothesis",
    "Transducer",
    "ctc_greedy",
    "ctc_prefix_beam",
    "rnnt_beam",
    "rnnt_greedy",
    "rnnt_greedy_decode",
]
