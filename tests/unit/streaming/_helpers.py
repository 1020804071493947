"""Shared helpers of the streaming tests: a tiny real ASR model folder, a fake model, speech."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

SR = 16000
CHARS = list(" abcdefghijklmnopqrstuvwxyz'")


def tiny_asr_folder(root: Path, seed: int = 0, decoder_type: str = "ctc", blank_bias: float = 2.0) -> Path:
    """Save a tiny random-weight :class:`StreamingASR` (+ char tokenizer) as an audiokit folder.

    Look-aheads 240, 80 and 0 ms (``att_context_size`` [[8, 3], [8, 1], [8, 0]]). ``blank_bias``
    is added to the blank logit of every head so that, like a trained model, it mostly
    emits blanks (short gibberish transcripts instead of one token per frame).
    """
    import torch

    from audiokit.checkpoint import save_pretrained
    from audiokit.models.asr import StreamingASR
    from audiokit.text.chars import CharTokenizer

    tok = CharTokenizer(CHARS)
    torch.manual_seed(seed)
    enc = {"d_model": 32, "n_layers": 2, "n_heads": 4, "ff_expansion": 2, "conv_kernel_size": 5,
           "subsampling_conv_channels": 8, "att_context_size": [[8, 3], [8, 1], [8, 0]]}
    model = StreamingASR(tok.vocab_size, enc, decoder_type, pred_hidden=16, joint_hidden=24).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
        if model.ctc_decoder is not None:
            model.ctc_decoder.decoder_layers[0].bias[-1] += blank_bias
        if model.joint is not None:
            model.joint.joint_net[-1].bias[-1] += blank_bias
    tok_dir = root / f"tok{seed}"
    tok.save(tok_dir, force=True)
    out = root / f"asr{seed}-{decoder_type}-{blank_bias:g}"
    cfg = {"model": {"class_path": "audiokit.models.asr.model.StreamingASR", "init_args": model.init_args},
           "sample_rate": SR}
    save_pretrained(model, cfg, out, extra_files=[tok_dir / "tokenizer.json"])
    return out


def espeak(text: str, path: Path, rate: int = SR) -> Path:
    """Speak ``text`` with espeak-ng, converted by sox to ``rate`` Hz mono 16-bit WAV."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)],
                   check=True, capture_output=True)
    raw.unlink()
    return path


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def tone_bursts(spec: list[tuple[float, float]], sr: int = SR, amp: float = 0.5) -> np.ndarray:
    """Concatenated segments: ``(seconds, 0)`` silence or ``(seconds, 1)`` a 440 Hz tone."""
    parts = []
    for sec, on in spec:
        n = round(sec * sr)
        t = np.arange(n) / sr
        parts.append((amp * np.sin(2 * np.pi * 440 * t) if on else np.zeros(n)).astype(np.float32))
    return np.concatenate(parts)
