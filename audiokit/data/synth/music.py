"""``build_music``: seeded random General-MIDI songs rendered with fluidsynth.

Each song has chords, a melody and a bass line (and drums for some ensembles) over a
random key, tempo and chord progression, written with ``mido`` and rendered by
``fluidsynth`` with the small TimGM6mb soundfont (Debian ``timgm6mb-soundfont``), then
down-mixed by ``sox -R`` to mono 16-bit at ``sample_rate``, normalised to -1 dBFS.

Layout under ``out_dir``::

    music/{wav.scp,utt2spk,spk2utt,utt2dur}   Kaldi data dir (no text)
    wav/music_<ensemble>/music_<ensemble>-<nnnn>.wav
    music_versions.txt                         Debian versions, mido version, ensembles

The "speaker" of a song is its instrument set (``music_piano``, ``music_rock``, ...).
Songs are byte-identical for the same seed (fluidsynth's file renderer and ``sox -R``
are deterministic).
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from audiokit.data.kaldi import DataDir
from audiokit.data.synth.engines import run_program
from audiokit.data.synth.stats import debian_versions, format_versions, wav_seconds
from audiokit.data.synth.voices import require_program
from audiokit.errors import AudiokitError
from audiokit.io.atomic import atomic_path, write_text_atomic

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
TICKS = 480  # per beat
DRUM_CHANNEL = 9

#: ensemble -> (chord program, melody program, bass program, drums?) in GM numbering (0-based)
ENSEMBLES: dict[str, tuple[int, int, int, bool]] = {
    "piano": (0, 0, 32, False),
    "strings": (48, 40, 42, False),
    "guitar": (24, 25, 32, False),
    "rock": (29, 30, 34, True),
    "brass": (61, 56, 58, True),
    "organ": (19, 73, 32, False),
    "synth": (89, 81, 38, True),
    "jazz": (4, 65, 32, True),
}
#: chord progressions as scale degrees (0 = tonic)
PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 3, 0, 4))
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def _scale_note(root: int, scale: tuple[int, ...], degree: int) -> int:
    """MIDI note of scale ``degree`` (may exceed one octave) above ``root``."""
    octave, step = divmod(degree, len(scale))
    return root + 12 * octave + scale[step]


def _note(events: list, start: int, length: int, ch: int, note: int, vel: int) -> None:
    """Append a note as absolute-tick on/off events."""
    events.append((start, 1, "note_on", ch, note, vel))
    events.append((start + length, 0, "note_off", ch, note, 0))


def song_events(rng: random.Random, ensemble: str) -> tuple[list, int]:
    """Absolute-tick events ``(tick, order, kind, channel, note, velocity)`` and tempo (us/beat)."""
    chord_prog, melody_prog, bass_prog, drums = ENSEMBLES[ensemble]
    root = rng.randint(55, 66)
    scale = rng.choice((MAJOR, MINOR))
    progression = rng.choice(PROGRESSIONS)
    bars = rng.choice((8, 12, 16))
    tempo = int(60_000_000 / rng.randint(80, 140))
    events: list = [(0, -1, "program_change", ch, prog, 0)
                    for ch, prog in ((0, chord_prog), (1, melody_prog), (2, bass_prog))]
    melody_degree = 7
    for bar in range(bars):
        t0 = bar * 4 * TICKS
        degree = progression[bar % len(progression)]
        for k in (0, 2, 4):  # triad, held for the bar
            _note(events, t0, 4 * TICKS - 10, 0, _scale_note(root - 12, scale, degree + k), 70)
        for beat in (0, 2):
            _note(events, t0 + beat * TICKS, 2 * TICKS - 10, 2,
                  _scale_note(root - 24, scale, degree), 90)
        t = 0
        while t < 4 * TICKS:
            length = rng.choice((TICKS // 2, TICKS, TICKS, 2 * TICKS))
            length = min(length, 4 * TICKS - t)
            melody_degree = min(14, max(0, melody_degree + rng.choice((-2, -1, -1, 0, 1, 1, 2))))
            if rng.random() > 0.1:
                _note(events, t0 + t, length - 10, 1, _scale_note(root, scale, melody_degree),
                      rng.randint(80, 110))
            t += length
        if drums:
            for eighth in range(8):
                tick = t0 + eighth * TICKS // 2
                _note(events, tick, TICKS // 4, DRUM_CHANNEL, 42, 60)  # closed hi-hat
                if eighth in (0, 4):
                    _note(events, tick, TICKS // 4, DRUM_CHANNEL, 36, 100)  # kick
                if eighth in (2, 6):
                    _note(events, tick, TICKS // 4, DRUM_CHANNEL, 38, 90)  # snare
    return events, tempo


def write_midi(events: list, tempo: int, path: Path) -> None:
    """Write ``events`` as a one-track MIDI file (plus one silent bar at the end)."""
    import mido

    mid = mido.MidiFile(ticks_per_beat=TICKS)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    now = 0
    for tick, _, kind, ch, a, b in sorted(events, key=lambda e: e[:2]):
        if kind == "program_change":
            msg = mido.Message(kind, channel=ch, program=a, time=tick - now)
        else:
            msg = mido.Message(kind, channel=ch, note=a, velocity=b, time=tick - now)
        track.append(msg)
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=4 * TICKS))
    mid.save(str(path))


def render_song(midi: Path, final: Path, sample_rate: int, what: str) -> None:
    """fluidsynth -> stereo wav -> sox -> mono 16-bit normalised ``final`` (atomic)."""
    raw = midi.with_suffix(".raw.wav")
    run_program(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(sample_rate), "-F", str(raw),
                 str(SOUNDFONT), str(midi)], f"{what}: fluidsynth")
    if not raw.is_file() or raw.stat().st_size <= 44:
        raise AudiokitError(f"{what}: fluidsynth wrote no audio")
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(final, suffix=".wav") as tmp:
        run_program(["sox", "-R", str(raw), "-t", "wav", "-r", str(sample_rate), "-c", "1",
                     "-b", "16", "-e", "signed-integer", str(tmp), "norm", "-1"], f"{what}: sox")


def check_music_tools() -> None:
    """One-line :class:`AudiokitError` naming the apt/pip package that is missing."""
    require_program("fluidsynth", "fluidsynth")
    require_program("sox", "sox")
    if not SOUNDFONT.is_file():
        raise AudiokitError(f"{SOUNDFONT}: soundfont missing; install the Debian package "
                            "'timgm6mb-soundfont'")
    try:
        import mido  # noqa: F401
    except ImportError:
        raise AudiokitError("python package 'mido' missing; pip install mido") from None


def build_music(out_dir: Path, *, n_songs: int, seed: int = 0, sample_rate: int = 24000,
                progress: bool = True) -> dict:
    """Render ``n_songs`` seeded random songs into ``out_dir/music``; return a stats dict.

    Stats: ``songs``, ``hours``, ``speakers`` (ensembles used), ``sample_rate``.
    """
    if n_songs < 1:
        raise AudiokitError(f"--music-songs must be at least 1 (got {n_songs}); use 0 to skip")
    check_music_tools()
    from importlib.metadata import version

    from tqdm import tqdm

    out_dir = Path(out_dir)
    dd = DataDir()
    with tempfile.TemporaryDirectory(prefix="synth-music-") as tmpdir:
        for i in tqdm(range(n_songs), desc="rendering music", unit="song",
                      disable=not progress, file=sys.stderr):
            rng = random.Random(f"music:{seed}:{i}")
            ensemble = rng.choice(sorted(ENSEMBLES))
            spk = f"music_{ensemble}"
            utt = f"{spk}-{i:04d}"
            midi = Path(tmpdir) / f"{utt}.mid"
            write_midi(*song_events(rng, ensemble), midi)
            wav = out_dir / "wav" / spk / f"{utt}.wav"
            render_song(midi, wav, sample_rate, utt)
            dd.wav_scp[utt], dd.utt2spk[utt] = str(wav), spk
            dd.utt2dur[utt] = f"{wav_seconds(wav):.4f}"
    dd.save(out_dir / "music")
    versions = debian_versions(["fluidsynth", "timgm6mb-soundfont", "sox"])
    versions["mido (pip)"] = version("mido")
    lines = [f"music_{e} programs={c},{m},{b} drums={'yes' if d else 'no'}"
             for e, (c, m, b, d) in sorted(ENSEMBLES.items())]
    write_text_atomic(out_dir / "music_versions.txt",
                      format_versions(versions, lines, f"mini_synth music, {sample_rate} Hz",
                                      "instrument sets (GM programs: chords, melody, bass)"))
    seconds = sum(float(v) for v in dd.utt2dur.values())
    return {"songs": n_songs, "hours": round(seconds / 3600, 4),
            "speakers": sorted(set(dd.utt2spk.values())), "sample_rate": sample_rate}
