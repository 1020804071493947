"""Named model bundles and ``load(path or name)``.

``load`` accepts

* an audiokit model folder (``config.yaml`` + ``model.safetensors``);
* an official checkpoint file (format detected from its keys, see :mod:`audiokit.convert`);
* a bundle name from :data:`BUNDLES` (``audiokit.pretrained.names()``), looked up in the
  local cache folder ``$AUDIOKIT_HOME/<name>/`` (default ``~/.cache/audiokit/<name>/``),
  which holds either the converted folder's files or the official file. audiokit never
  downloads: a missing file is an error that says where to get it and where to put it.

Bundles: every WavTokenizer release, the four HiFi-Codec releases
(:data:`audiokit.convert.hificodec.RELEASES`) and the three Language-Codec releases (v2
``languagecodec-paper-8nq``; v1 ``languagecodec-v1-paper-8nq``, ``languagecodec-v1-chinese-8nq``).
Language-Codec's Google Drive files have no published names, so its bundles take the one
``*.ckpt`` file in the cache folder, whatever it is called.

Importing this module does not import torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.convert import hificodec, languagecodec
from audiokit.errors import CheckpointError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

HOME_ENV = "AUDIOKIT_HOME"
DEFAULT_HOME = "~/.cache/audiokit"
WAVTOKENIZER = "audiokit.models.codec.wavtokenizer.WavTokenizer"
LANGUAGECODEC_SOURCE = "https://github.com/jishengpeng/Languagecodec (Google Drive links in its README)"


def cache_dir(name: str) -> Path:
    """The local folder of model ``name``: ``$AUDIOKIT_HOME/<name>`` (default ``~/.cache/audiokit/<name>``)."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser() / name


def wavtokenizer_args(hop: int) -> dict[str, Any]:
    """Init args of every released WavTokenizer (all sizes share one architecture)."""
    ratios = {320: [8, 5, 4, 2], 600: [6, 5, 5, 4]}[hop]
    return {
        "sample_rate": 24000, "ratios": ratios, "dimension": 512, "n_filters": 32, "lstm": 2,
        "codebook_size": 4096, "kmeans_iters": 200, "decay": 0.99, "threshold_ema_dead_code": 2,
        "backbone_dim": 768, "intermediate_dim": 2304, "num_layers": 12, "adanorm_num_embeddings": 4,
        "pos_net": True, "n_fft": 4 * hop,
    }


@dataclass(frozen=True)
class Bundle:
    """A released model: what it is, how to build it and which file holds it.

    Attributes:
        name: audiokit's name for it (the cache folder name).
        class_path: the audiokit model class.
        init_args: its constructor arguments.
        sample_rate: audio rate in Hz.
        hop_length: samples per code frame.
        filenames: official file names, preferred first (may be empty with ``file_pattern``).
        source: where the official file is published.
        description: one line for listings.
        file_pattern: glob for an official file whose name is not published
            (``"*.ckpt"``): exactly one match in the cache folder is taken.
    """

    name: str
    class_path: str
    init_args: Mapping[str, Any]
    sample_rate: int
    hop_length: int
    filenames: tuple[str, ...]
    source: str
    description: str = ""
    file_pattern: str | None = None

    @property
    def frame_rate(self) -> float:
        """Code frames per second."""
        return self.sample_rate / self.hop_length

    def cache_dir(self) -> Path:
        """``$AUDIOKIT_HOME/<name>`` (default ``~/.cache/audiokit/<name>``)."""
        return cache_dir(self.name)

    def model_config(self) -> dict[str, Any]:
        """The ``model`` node of an audiokit config: ``{class_path, init_args}``."""
        return {"class_path": self.class_path, "init_args": dict(self.init_args)}

    def official_file(self) -> Path | None:
        """The official file in :meth:`cache_dir` (a listed name, else the one ``file_pattern`` match)."""
        folder = self.cache_dir()
        for filename in self.filenames:
            if (folder / filename).is_file():
                return folder / filename
        found = sorted(p for p in folder.glob(self.file_pattern) if p.is_file()) if self.file_pattern else []
        if len(found) > 1:
            raise CheckpointError(f"{folder}: {len(found)} files match '{self.file_pattern}' "
                                  f"({', '.join(p.name for p in found)}); keep the one of model '{self.name}'")
        return found[0] if found else None

    def load(self, *, device: Any = "cpu") -> nn.Module:
        """Build the model from the files in :meth:`cache_dir` (eval mode)."""
        folder = self.cache_dir()
        if (folder / "config.yaml").is_file():
            model = _load_folder(folder, device)
            _check_same(model, self, folder)
            return model
        official = self.official_file()
        if official is not None:
            return _load_official(official, device, expected=dict(self.init_args))
        wanted = self.filenames[0] if self.filenames else f"the {self.file_pattern} file"
        raise CheckpointError(
            f"model '{self.name}' is not in {folder} and audiokit does not download: get "
            f"{wanted} from {self.source} and put it in {folder} (or set ${HOME_ENV})"
        )


def _wavtokenizer(name: str, hop: int, files: tuple[str, ...], repo: str, what: str) -> Bundle:
    return Bundle(name, WAVTOKENIZER, wavtokenizer_args(hop), 24000, hop, files,
                  f"https://huggingface.co/{repo}", what)


def _hificodec(name: str) -> Bundle:
    args = hificodec.RELEASES[name]
    hop = math.prod(args["upsample_rates"])
    return Bundle(name, hificodec.CLASS_PATH, dict(args), args["sample_rate"], hop, (hificodec.FILENAMES[name],),
                  hificodec.SOURCE, f"HiFi-Codec {args['sample_rate'] // 1000} kHz, hop {hop}, 4 GRVQ codebooks")


def _languagecodec(name: str, version: str, what: str) -> Bundle:
    return Bundle(name, languagecodec.CLASS_PATH, languagecodec.release_init_args(version), 24000,
                  languagecodec.HOP, (), LANGUAGECODEC_SOURCE, what, file_pattern="*.ckpt")


#: released models by name (codecs.md §3.5, §5.4, §6.3)
BUNDLES: dict[str, Bundle] = {b.name: b for b in (
    _wavtokenizer("wavtokenizer-small-600-24k-4096", 600, ("WavTokenizer_small_600_24k_4096.ckpt",),
                  "novateur/WavTokenizer", "WavTokenizer small, 40 tokens/s, LibriTTS"),
    _wavtokenizer("wavtokenizer-small-320-24k-4096", 320, ("WavTokenizer_small_320_24k_4096.ckpt",),
                  "novateur/WavTokenizer", "WavTokenizer small, 75 tokens/s, LibriTTS"),
    _wavtokenizer("wavtokenizer-medium-320-24k-4096", 320,
                  ("wavtokenizer_medium_speech_320_24k_v2.ckpt", "wavtokenizer_medium_speech_320_24k.ckpt"),
                  "novateur/WavTokenizer-medium-speech-75token", "WavTokenizer medium (speech), 75 tokens/s"),
    _wavtokenizer("wavtokenizer-medium-music-audio-320-24k-4096", 320,
                  ("wavtokenizer_medium_music_audio_320_24k_v2.ckpt",
                   "wavtokenizer_medium_music_audio_320_24k.ckpt"),
                  "novateur/WavTokenizer-medium-music-audio-75token",
                  "WavTokenizer medium (music and audio), 75 tokens/s"),
    _wavtokenizer("wavtokenizer-large-600-24k-4096", 600, ("wavtokenizer_large_unify_600_24k.ckpt",),
                  "novateur/WavTokenizer-large-unify-40token", "WavTokenizer large (unified), 40 tokens/s"),
    _wavtokenizer("wavtokenizer-large-320-24k-4096", 320,
                  ("wavtokenizer_large_speech_320_v2.ckpt", "wavtokenizer_large_speech_320_24k.ckpt"),
                  "novateur/WavTokenizer-large-speech-75token", "WavTokenizer large (speech), 75 tokens/s"),
    *(_hificodec(name) for name in hificodec.RELEASES),
    _languagecodec("languagecodec-paper-8nq", "v2", "Language-Codec v2 (paper), 8 MCRVQ codebooks, 75 Hz"),
    _languagecodec("languagecodec-v1-paper-8nq", "v1", "Language-Codec v1 (paper), 8 MCRVQ codebooks, 75 Hz"),
    _languagecodec("languagecodec-v1-chinese-8nq", "v1",
                   "Language-Codec v1 (Chinese), 8 MCRVQ codebooks, 75 Hz"),
)}


def names() -> list[str]:
    """Names of the known bundles."""
    return sorted(BUNDLES)


def get_bundle(name: str) -> Bundle:
    """The bundle called ``name``; an unknown name is a :class:`CheckpointError`."""
    if name not in BUNDLES:
        from audiokit.config import hint

        raise CheckpointError(f"unknown model '{name}'{hint(name, BUNDLES)}; known: {', '.join(names())}")
    return BUNDLES[name]


def _load_folder(folder: Path, device: Any) -> nn.Module:
    from audiokit.checkpoint import load_pretrained

    return load_pretrained(folder, map_location=device)


def _load_official(path: Path, device: Any, **options: Any) -> nn.Module:
    from audiokit.convert import read_official

    _, ckpt = read_official(path, **options)
    return ckpt.build(str(path)).to(device)


def _check_same(model: Any, bundle: Bundle, where: Path) -> None:
    args = getattr(model, "init_args", {})
    for key, value in bundle.init_args.items():
        if key in args and args[key] != value:
            raise CheckpointError(f"{where}: does not hold '{bundle.name}' ({key} is {args[key]!r}, "
                                  f"expected {value!r})")


def load(path_or_name: str | os.PathLike, *, device: Any = "cpu", **options: Any) -> nn.Module:
    """Load a model (eval mode) from a folder, an official file, or a bundle name.

    ``options`` go to the reader of an official file (e.g. ``sample_rate=16000`` for a
    HiFi-Codec file whose name does not tell its rate, ``config=...``); an option the
    file's format does not take, or any option for a folder or a bundle, is an error.
    """
    path = Path(path_or_name)
    if path.is_file():
        return _load_official(path, device, **options)
    if options:
        raise CheckpointError(f"{path_or_name}: option(s) {', '.join(sorted(options))} apply only to "
                              "official checkpoint files")
    if path.is_dir():
        return _load_folder(path, device)
    if isinstance(path_or_name, str) and path_or_name in BUNDLES:
        return BUNDLES[path_or_name].load(device=device)
    from audiokit.config import hint

    raise CheckpointError(f"{path_or_name}: no such file or folder, and not a known model name"
                          f"{hint(str(path_or_name), BUNDLES)} (known: {', '.join(names())})")
