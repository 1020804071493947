"""The speaker table of the synthetic corpus and detection of installed voices.

Each speaker is one TTS voice (espeak-ng voices are made distinct by accent,
variant, rate and pitch). Test voices are held out: no test voice, and no voice that
shares recordings with one (``family``: festival kal_diphone ~ flite kal16; festival
us1_mbrola ~ espeak-ng mb-us1), is used in train; festival HTS is a synthesis method
seen only in test. Voices marked ``optional`` (MBROLA, pico2wave, festival
rab_diphone: Debian contrib/non-free) are used when installed and never required.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from audiokit.errors import AudiokitError

FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")
MBROLA_ROOT = Path("/usr/share/mbrola")


@dataclass(frozen=True)
class Voice:
    """One corpus speaker.

    ``engine`` is ``espeak``, ``flite``, ``festival`` or ``pico``; ``name`` is the
    engine's voice name; ``options`` extra engine arguments (espeak rate/pitch);
    ``package`` the Debian package that provides the voice.
    """

    spk: str
    engine: str
    name: str
    gender: str
    split: str
    package: str
    options: tuple[str, ...] = ()
    optional: bool = False
    family: str = ""

    def describe(self) -> str:
        """One line: ``spk split gender engine name options``."""
        opts = " ".join(self.options)
        return f"{self.spk} {self.split} {self.gender} {self.engine} {self.name} {opts}".strip()


def _es(spk: str, voice: str, rate: int, pitch: int, gender: str, split: str) -> Voice:
    return Voice(spk, "espeak", voice, gender, split, "espeak-ng",
                 ("-s", str(rate), "-p", str(pitch)))


def _mb(spk: str, voice: str, gender: str, split: str) -> Voice:
    return Voice(spk, "espeak", voice, gender, split, f"mbrola-{voice[3:]}", ("-s", "160"),
                 optional=True, family=f"mbrola-{voice[3:]}")


#: every speaker the corpus may use, in a fixed order (reference §16.2)
VOICES: tuple[Voice, ...] = (
    # train: espeak-ng virtual speakers
    _es("es_us_m1", "en-us+m1", 160, 45, "m", "train"),
    _es("es_us_f2", "en-us+f2", 150, 65, "f", "train"),
    _es("es_gb_m3", "en-gb+m3", 170, 40, "m", "train"),
    _es("es_rp_f4", "en-gb-x-rp+f4", 155, 70, "f", "train"),
    _es("es_sc_m4", "en-gb-scotland+m4", 165, 50, "m", "train"),
    _es("es_ca_m7", "en-029+m7", 150, 35, "m", "train"),
    _es("es_ny_f1", "en-us-nyc+f1", 175, 60, "f", "train"),
    _es("es_wm_m2", "en-gb-x-gbcwmd+m2", 145, 55, "m", "train"),
    # train: diphone and clustergen voices
    Voice("fl_kal16", "flite", "kal16", "m", "train", "flite", family="kal"),
    Voice("fl_awb", "flite", "awb", "m", "train", "flite"),
    Voice("fe_kal", "festival", "kal_diphone", "m", "train", "festvox-kallpc16k", family="kal"),
    # train: optional (contrib / non-free)
    _mb("mb_us1", "mb-us1", "f", "train"),
    _mb("mb_us2", "mb-us2", "m", "train"),
    _mb("mb_en1", "mb-en1", "m", "train"),
    Voice("pi_us", "pico", "en-US", "f", "train", "libttspico-utils", optional=True),
    Voice("fe_rab", "festival", "rab_diphone", "m", "train", "festvox-rablpc16k",
          optional=True, family="rab"),
    # dev
    _es("es_la_f5", "en-gb-x-gbclan+f5", 160, 75, "f", "dev"),
    Voice("fl_rms", "flite", "rms", "m", "dev", "flite"),
    _mb("mb_us3", "mb-us3", "m", "dev"),
    # test: held out voices and methods
    Voice("fl_slt", "flite", "slt", "f", "test", "flite", family="slt"),
    Voice("fe_ked", "festival", "ked_diphone", "m", "test", "festvox-kdlpc16k", family="ked"),
    Voice("fe_slthts", "festival", "cmu_us_slt_arctic_hts", "f", "test", "festvox-us-slt-hts",
          family="slt"),
    Voice("pi_gb", "pico", "en-GB", "f", "test", "libttspico-utils", optional=True),
)

#: command-line programs each engine needs, with the Debian package that provides them
ENGINE_PROGRAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "espeak": (("espeak-ng", "espeak-ng"),),
    "flite": (("flite", "flite"),),
    "festival": (("festival", "festival"),),
    "pico": (("pico2wave", "libttspico-utils"),),
}


@functools.lru_cache(maxsize=None)
def flite_voices() -> frozenset[str]:
    """Voices compiled into the installed flite (``flite -lv``); empty if flite is absent."""
    exe = shutil.which("flite")
    if exe is None:
        return frozenset()
    res = subprocess.run([exe, "-lv"], capture_output=True, text=True, timeout=30)
    _, _, names = res.stdout.partition(":")
    return frozenset(names.split())


def festival_voice_dir(name: str, root: Path | None = None) -> Path | None:
    """Directory of festival voice ``name`` (``root/<lang>/<name>``), or None."""
    root = FESTIVAL_VOICE_ROOT if root is None else root
    if not root.is_dir():
        return None
    for lang in sorted(root.iterdir()):
        if (lang / name).is_dir():
            return lang / name
    return None


def missing_reason(voice: Voice) -> str | None:
    """Why ``voice`` cannot be synthesised here (naming the apt package), or None."""
    for prog, pkg in ENGINE_PROGRAMS[voice.engine]:
        if shutil.which(prog) is None:
            return f"'{prog}' not found; install the Debian package '{pkg}'"
    if voice.engine == "espeak" and voice.name.startswith("mb-"):
        if shutil.which("mbrola") is None:
            return "'mbrola' not found; install the Debian package 'mbrola'"
        if not (MBROLA_ROOT / voice.name[3:]).is_dir():
            return f"MBROLA voice {voice.name[3:]} missing; install '{voice.package}'"
    if voice.engine == "flite" and voice.name not in flite_voices():
        return f"flite has no voice '{voice.name}'; install the Debian package 'flite'"
    if voice.engine == "festival" and festival_voice_dir(voice.name) is None:
        return f"festival voice '{voice.name}' missing; install the Debian package '{voice.package}'"
    return None


def available_voices(voices: tuple[Voice, ...] = VOICES) -> list[Voice]:
    """The voices to use: every required one (error if missing) plus installed optional ones.

    Raises :class:`AudiokitError` naming the first missing required voice's apt package.
    """
    out = []
    for voice in voices:
        reason = missing_reason(voice)
        if reason is None:
            out.append(voice)
        elif not voice.optional:
            raise AudiokitError(f"cannot build the synthetic corpus: speaker {voice.spk}: {reason}")
    return out


def require_program(prog: str, package: str) -> str:
    """Path of ``prog``, or an :class:`AudiokitError` naming the apt package."""
    exe = shutil.which(prog)
    if exe is None:
        raise AudiokitError(f"'{prog}' not found; install the Debian package '{package}'")
    return exe
