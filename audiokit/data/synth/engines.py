"""Running the TTS engines and sox: one chunk of utterances of one speaker at a time.

Every external program is run with an argument list (never a shell). Raw engine output
goes to a private temporary folder; ``sox`` then writes the final 16 kHz mono 16-bit
file (normalised to -1 dBFS, 0.15 s silence padding at both ends) through a temporary
name that is renamed on success, so a finished ``.wav`` is always complete.
``sox -R`` (repeatable mode) seeds its dither, so the output is byte-identical
between runs.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audiokit.data.synth.text import SENTENCE_CHARS
from audiokit.data.synth.voices import Voice
from audiokit.errors import AudiokitError
from audiokit.io.atomic import atomic_path

SAMPLE_RATE = 16000
PAD_SECONDS = 0.15
NORM_DB = -1
#: seconds any single engine process may run before it is considered hung
PROCESS_TIMEOUT = 600


@dataclass(frozen=True)
class Utterance:
    """One planned utterance: id, speaker voice, split, transcript and final wav path."""

    utt: str
    voice: Voice
    text: str
    wav: Path


def run_program(args: list[str], what: str, stdin: str | None = None) -> None:
    """Run ``args``; raise :class:`AudiokitError` with the last stderr line on failure."""
    try:
        res = subprocess.run(args, input=stdin, capture_output=True, text=True,
                             timeout=PROCESS_TIMEOUT)
    except FileNotFoundError:
        raise AudiokitError(f"{what}: program '{args[0]}' not found") from None
    except subprocess.TimeoutExpired:
        raise AudiokitError(f"{what}: '{args[0]}' ran longer than {PROCESS_TIMEOUT} s") from None
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise AudiokitError(f"{what}: '{args[0]}' failed (exit {res.returncode}): {tail}")


def check_text(text: str) -> str:
    """Refuse transcripts with characters an engine or a Scheme string could misread."""
    if not SENTENCE_CHARS.fullmatch(text) or text != text.strip():
        raise ValueError(f"unsafe transcript for synthesis: {text!r}")
    return text


def single_command(voice: Voice, text: str, out: Path) -> list[str]:
    """Argument list that synthesises ``text`` with a per-utterance engine into ``out``."""
    text = check_text(text)
    if voice.engine == "espeak":
        return ["espeak-ng", "-v", voice.name, *voice.options, "-w", str(out), text]
    if voice.engine == "flite":
        return ["flite", "-voice", voice.name, *voice.options, "-t", text, "-o", str(out)]
    if voice.engine == "pico":
        return ["pico2wave", "-l", voice.name, "-w", str(out), text]
    raise ValueError(f"engine {voice.engine!r} has no per-utterance command")


def scheme_string(text: str) -> str:
    """``text`` as a Scheme string literal (backslashes and quotes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival_script(voice: Voice, items: list[tuple[str, Path]]) -> str:
    """A festival batch script: select the voice, then save one RIFF wav per item.

    ``items`` are ``(text, raw_wav_path)`` pairs.
    """
    lines = [f"(voice_{voice.name})"]
    for text, out in items:
        lines.append(f"(utt.save.wave (SynthText {scheme_string(check_text(text))}) "
                     f"{scheme_string(str(out))} 'riff)")
    return "\n".join(lines) + "\n"


def synthesize_raw(voice: Voice, items: list[tuple[str, Path]], tmp: Path) -> None:
    """Write the engine's raw output for each ``(text, raw_path)``; festival in one process."""
    if voice.engine == "festival":
        script = tmp / "batch.scm"
        script.write_text(festival_script(voice, items), encoding="utf-8")
        run_program(["festival", "-b", str(script)], f"{voice.spk}: festival")
        return
    for text, out in items:
        run_program(single_command(voice, text, out), f"{voice.spk}: {voice.engine}")


def sox_command(src: Path, dst: Path) -> list[str]:
    """sox arguments: resample to 16 kHz mono 16-bit, normalise, pad (repeatable mode)."""
    return ["sox", "-R", str(src), "-t", "wav", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16",
            "-e", "signed-integer", str(dst), "norm", str(NORM_DB),
            "pad", str(PAD_SECONDS), str(PAD_SECONDS)]


def finish_wav(raw: Path, final: Path, what: str) -> None:
    """Convert ``raw`` into ``final`` with sox, atomically."""
    if not raw.is_file() or raw.stat().st_size <= 44:
        raise AudiokitError(f"{what}: the engine wrote no audio")
    with atomic_path(final, suffix=".wav") as tmp:
        run_program(sox_command(raw, tmp), f"{what}: sox")


def synthesize_chunk(utts: list[Utterance]) -> int:
    """Synthesise utterances of ONE speaker into their final wav paths; return how many."""
    if not utts:
        return 0
    voice = utts[0].voice
    assert all(u.voice == voice for u in utts), "a chunk holds one speaker"
    with tempfile.TemporaryDirectory(prefix=f"synth-{voice.spk}-") as tmpdir:
        tmp = Path(tmpdir)
        items = [(u.text, tmp / f"{u.utt}.raw.wav") for u in utts]
        synthesize_raw(voice, items, tmp)
        for u, (_, raw) in zip(utts, items):
            u.wav.parent.mkdir(parents=True, exist_ok=True)
            finish_wav(raw, u.wav, f"{voice.spk}: {u.utt}")
    return len(utts)
