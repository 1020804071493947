"""``audiokit synthesize``: zero-shot voice cloning with F5-TTS.

One text::

    audiokit synthesize --model M --ref-audio ref.wav --ref-text "..." --text "..." -o out.wav

A batch, one output per non-blank line (``<line number>.wav``, zero-padded, or ``<id>.wav``
for ``id<TAB>text`` lines)::

    audiokit synthesize --model M --ref-audio ref.wav --ref-text "..." --text-file lines.txt -o outdir/

Decisions:

* ``--model``: an audiokit model folder (``config.yaml`` + ``model.safetensors`` +
  ``vocab.txt``, vocoder in ``vocoder/``) or an official checkpoint file
  (``model_*.safetensors`` / ``.pt`` with ``vocab.txt`` beside it; ``--model-config`` picks
  v0 ``configs/tts/f5tts_base.yaml``, default v1 Base), or a release name (``f5tts-v1-base``,
  ``f5tts-base``) whose files are in ``$AUDIOKIT_HOME/<name>/``. ``--vocoder`` / ``--vocab``
  override the default places (see :mod:`audiokit.models.tts.bundle`).
* Sampling defaults are F5-TTS's (downstream.md §5.7): NFE 32, CFG 2, sway -1, speed 1, EPSS
  grid where defined. Without ``--seed`` a random seed is drawn and printed, so a result can be
  reproduced; every line of a batch uses the same seed.
* Text with characters outside the vocabulary is refused, naming them; ``--on-unknown space``
  reads them as a space (what F5-TTS does silently). Long text is cut at punctuation and the
  pieces cross-faded.
* The reference clip is resampled to 24 kHz and mixed to mono; silent (< -60 dBFS peak),
  shorter than 0.5 s or longer than 30 s clips are refused.
* Outputs are written atomically; an existing output is kept unless ``--force``. In a batch a
  bad line (empty text, unknown characters, an existing output, a bad id) is reported as one
  line ``FILE:LINE: reason`` and the other lines are still synthesized (exit 1).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import warnings
from pathlib import Path
from typing import Any

_SAFE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "synthesize", help="speak text in the voice of a reference clip (F5-TTS)",
        description="Zero-shot text-to-speech with F5-TTS: clone the voice of --ref-audio.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text to speak")
    src.add_argument("--text-file", metavar="FILE",
                     help="one text per line (or ID<TAB>TEXT); -o is then an output folder")
    p.add_argument("--model", required=True, metavar="PATH",
                   help="audiokit F5-TTS folder, an official model_*.safetensors/.pt file, or a release name "
                        "(f5tts-v1-base, f5tts-base: files in $AUDIOKIT_HOME/<name>/)")
    p.add_argument("--ref-audio", required=True, metavar="WAV", help="reference clip of the voice (0.5-30 s)")
    p.add_argument("--ref-text", required=True, metavar="TEXT", help="transcript of the reference clip")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="output audio file (--text) or folder (--text-file)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--vocoder", metavar="DIR", help="Vocos folder (default: MODEL/vocoder)")
    p.add_argument("--vocab", metavar="FILE", help="vocab.txt (default: next to / inside the model)")
    p.add_argument("--model-config", metavar="YAML",
                   help="model config for an official checkpoint file (default: v1 Base)")
    p.add_argument("--nfe", type=int, default=32, help="ODE steps (function evaluations; default 32)")
    p.add_argument("--cfg", type=float, default=2.0, help="classifier-free guidance strength (default 2)")
    p.add_argument("--sway", type=float, default=-1.0, help="sway sampling coefficient, 0 = off (default -1)")
    p.add_argument("--speed", type=float, default=1.0, help="speaking speed relative to the reference (default 1)")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: random, printed)")
    p.add_argument("--on-unknown", choices=("error", "space"), default="error",
                   help="characters outside the vocabulary: refuse (default) or read as a space")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads")
    return p


# --------------------------------------------------------------------------- batch lines
def read_lines(path: str) -> list[tuple[int, str, str | None]]:
    """``(line number, text, id or None)`` of the non-blank lines of a text file."""
    from audiokit.errors import AudiokitError

    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AudiokitError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudiokitError(f"{path}: is a directory, expected a text file") from None
    except UnicodeDecodeError as err:
        raise AudiokitError(f"{path}: not UTF-8 text (byte {err.start})") from None
    out = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" in line:
            key, text = line.split("\t", 1)
            out.append((n, text, key.strip()))
        else:
            out.append((n, line, None))
    if not out:
        raise AudiokitError(f"{path}: no text lines")
    return out


def output_names(lines: list[tuple[int, str, str | None]]) -> list[str]:
    """The output file stem of each line: its id, or its line number zero-padded."""
    width = max(4, len(str(lines[-1][0])))
    return [key if key is not None else f"{n:0{width}d}" for n, _, key in lines]


def _check_name(where: str, key: str | None, stem: str, seen: dict[str, str]) -> None:
    """Refuse an unsafe id and an output name already taken by an earlier line."""
    from audiokit.errors import AudiokitError

    if key is not None and not _SAFE_ID.match(key):
        raise AudiokitError(f"{where}: bad id {key!r} (letters, digits, '_', '-', '.'; not starting with '.' or '-')")
    if stem in seen:
        raise AudiokitError(f"{where}: output name {stem!r} is also used by line {seen[stem]}")


# --------------------------------------------------------------------------- running
class _Synth:
    """Checks and synthesis shared by the single and batch modes."""

    def __init__(self, args: argparse.Namespace, bundle: Any, ref_wav: Any, ref_text: str) -> None:
        self.args, self.bundle, self.ref_wav, self.ref_text = args, bundle, ref_wav, ref_text

    def check(self, text: str, where: str) -> str:
        from audiokit.models.tts.bundle import check_text

        return check_text(self.bundle.vocab, text, where, self.args.on_unknown)

    def speak(self, text: str, out: Path, progress: Any = None) -> None:
        from audiokit.io.atomic import check_writable
        from audiokit.io.audio import ClippingWarning, save_audio
        from audiokit.models.tts.bundle import synthesize

        check_writable(out, self.args.force)
        a = self.args
        wav = synthesize(self.bundle, text, self.ref_wav, self.ref_text, nfe=a.nfe, cfg_strength=a.cfg,
                         sway_coef=a.sway, speed=a.speed, seed=a.seed, progress=progress)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ClippingWarning)
            save_audio(out, wav, self.bundle.sample_rate, force=self.args.force)
        for w in caught:
            print(f"audiokit synthesize: warning: {' '.join(str(w.message).split())}", file=sys.stderr)


def _step_bar(total: int) -> Any:
    """A tqdm bar over model evaluations on a TTY, else ``None``."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="synthesize", unit="step", file=sys.stderr, leave=False)


def _single(synth: _Synth, text: str) -> int:
    from audiokit.models.tts.bundle import steps_per_text

    a = synth.args
    bar = _step_bar(steps_per_text(synth.bundle, text, len(synth.ref_wav) / synth.bundle.sample_rate,
                                   synth.ref_text, a.speed, a.nfe))
    try:
        synth.speak(text, Path(a.output), progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    return 0


def _batch(synth: _Synth, lines: list[tuple[int, str, str | None]]) -> int:
    from audiokit.io.batch import BatchReporter

    a = synth.args
    out_dir = Path(a.output)
    rep = BatchReporter("synthesize", len(lines), unit="line")
    seen: dict[str, str] = {}
    for (n, text, key), stem in zip(lines, output_names(lines)):
        where = f"{a.text_file}:{n}"
        with rep.guard(Path(where)) as g:
            _check_name(where, key, stem, seen)
            seen[stem] = str(n)
            checked = synth.check(text, where)
            synth.speak(checked, out_dir / f"{stem}.wav")
        if g.ok:
            rep.succeeded()
    return rep.finish()


def check_settings(args: argparse.Namespace) -> None:
    """Refuse flag values that cannot work, before anything heavy is imported."""
    import math

    from audiokit.errors import AudiokitError

    if args.nfe < 1:
        raise AudiokitError(f"--nfe must be at least 1, got {args.nfe}")
    if not math.isfinite(args.cfg) or args.cfg < 0:
        raise AudiokitError(f"--cfg must be a number >= 0, got {args.cfg}")
    if not math.isfinite(args.sway):
        raise AudiokitError(f"--sway must be a finite number, got {args.sway}")
    if not math.isfinite(args.speed) or args.speed <= 0:
        raise AudiokitError(f"--speed must be positive (1.0 = the reference's pace), got {args.speed}")
    if args.threads is not None and args.threads < 1:
        raise AudiokitError("--threads must be at least 1")
    if args.text is not None and not args.text.strip():
        raise AudiokitError("--text: empty text")
    if not args.ref_text.strip():
        raise AudiokitError("--ref-text: empty; give the transcript of the reference clip")


def _check_output(args: argparse.Namespace) -> None:
    from audiokit.errors import AudiokitError
    from audiokit.io.atomic import check_writable

    out = Path(args.output)
    if args.text_file is None:
        check_writable(out, args.force)
        if out.is_dir():
            raise AudiokitError(f"{out}: is a directory; with --text, -o names an audio file")
    elif out.exists() and not out.is_dir():
        raise AudiokitError(f"{out}: exists and is not a folder; with --text-file, -o names an output folder")


def run(args: argparse.Namespace) -> int:
    from audiokit.cli.encode import check_device

    check_settings(args)
    _check_output(args)
    lines = read_lines(args.text_file) if args.text_file is not None else None
    device = check_device(args.device)

    import torch

    from audiokit.models.tts.bundle import (
        check_text,
        load_f5_bundle,
        load_reference,
        reference_text,
    )

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    ref_text = reference_text(args.ref_text)
    bundle = load_f5_bundle(args.model, vocab=args.vocab, vocoder=args.vocoder, config=args.model_config,
                            device=device)
    check_text(bundle.vocab, args.ref_text, "--ref-text", args.on_unknown)
    ref_wav = load_reference(args.ref_audio, bundle.sample_rate)
    synth = _Synth(args, bundle, ref_wav, ref_text)
    text = synth.check(args.text, "--text") if lines is None else None
    if args.seed is None:
        args.seed = random.randrange(2**31)
        print(f"audiokit synthesize: seed {args.seed} (pass --seed {args.seed} to reproduce)", file=sys.stderr)
    if text is not None:
        return _single(synth, text)
    return _batch(synth, lines)
