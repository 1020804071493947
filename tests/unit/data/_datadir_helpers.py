"""Build small Kaldi data dirs with real (synthetic) audio for the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000


def tone(seconds: float, sr: int = SR, freq: float = 220.0) -> np.ndarray:
    """A quiet sine ``(T,)`` float32."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_lines(path: Path, lines: list[str]) -> None:
    """Write table lines verbatim (no sorting)."""
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def make_data_dir(root: Path, *, speakers: tuple[str, ...] = ("spkA", "spkB"), per_spk: int = 3,
                  sr: int = SR, segments: bool = False, durations: bool = True) -> Path:
    """Create ``root/data`` with wavs in ``root/wavs``; ids ``<spk>-<nn>``; absolute wav paths.

    Utterance ``i`` of a speaker lasts ``0.2 + 0.1 * i`` seconds. With ``segments``
    each speaker has one recording holding its utterances back to back.
    """
    data, wavs = root / "data", root / "wavs"
    data.mkdir(parents=True)
    wavs.mkdir(exist_ok=True)
    wav_scp, text, utt2spk, segs, utt2dur = [], [], [], [], []
    for s, spk in enumerate(speakers):
        pieces, t0 = [], 0.0
        for i in range(per_spk):
            utt = f"{spk}-{i:02d}"
            dur = 0.2 + 0.1 * i
            audio = tone(dur, sr, 200.0 + 50 * s + 10 * i)
            if segments:
                pieces.append(audio)
                segs.append(f"{utt} {spk}-rec {t0:.3f} {t0 + dur:.3f}")
                t0 += dur
            else:
                sf.write(wavs / f"{utt}.wav", audio, sr)
                wav_scp.append(f"{utt} {wavs / f'{utt}.wav'}")
            text.append(f"{utt} hello world number {i}")
            utt2spk.append(f"{utt} {spk}")
            utt2dur.append(f"{utt} {dur:.3f}")
        if segments:
            sf.write(wavs / f"{spk}-rec.wav", np.concatenate(pieces), sr)
            wav_scp.append(f"{spk}-rec {wavs / f'{spk}-rec.wav'}")
    write_lines(data / "wav.scp", sorted(wav_scp))
    write_lines(data / "text", sorted(text))
    write_lines(data / "utt2spk", sorted(utt2spk))
    spk2utt = [f"{spk} " + " ".join(f"{spk}-{i:02d}" for i in range(per_spk)) for spk in speakers]
    write_lines(data / "spk2utt", sorted(spk2utt))
    if segments:
        write_lines(data / "segments", sorted(segs))
    if durations:
        write_lines(data / "utt2dur", sorted(utt2dur))
    return data


def read_lines(path: Path) -> list[str]:
    """Non-empty lines of a table."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
