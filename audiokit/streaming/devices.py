"""PortAudio device discovery for :class:`~audiokit.streaming.sources.MicSource`.

Every problem is one line naming what is available:
``no microphone: PortAudio lists no input device (devices: none)``,
``no input device matching 'usb'; input devices: 0 'pulse', 3 'default'``.
"""

from __future__ import annotations

from typing import Any

from audiokit.errors import AudiokitError


def import_sounddevice() -> Any:
    """``import sounddevice``, with actionable errors when it or PortAudio is missing."""
    try:
        import sounddevice
    except ModuleNotFoundError:
        raise AudiokitError("microphone input needs the 'sounddevice' package: "
                            "pip install 'audiokit[mic]'") from None
    except OSError:
        raise AudiokitError("microphone input needs the PortAudio library, which was not found: "
                            "install libportaudio2 (Debian/Ubuntu: apt-get install libportaudio2; "
                            "macOS: brew install portaudio)") from None
    return sounddevice


def reinit_portaudio(sd: Any | None = None) -> None:
    """Make PortAudio enumerate devices again (it does so only once, at import).

    Needed in a process that imported ``sounddevice`` before an audio server started.
    """
    sd = sd or import_sounddevice()
    sd._terminate()
    sd._initialize()


def _devices(sd: Any) -> list[dict]:
    return [dict(d, index=i) for i, d in enumerate(sd.query_devices())]


def describe(devices: list[dict]) -> str:
    """``0 'pulse' (in 32, out 32), 1 'hw' (in 0, out 2)`` or ``none``."""
    if not devices:
        return "none"
    return ", ".join(f"{d['index']} '{d['name']}' (in {d['max_input_channels']}, "
                     f"out {d['max_output_channels']})" for d in devices)


def input_devices(sd: Any) -> list[dict]:
    """Devices that can capture (``max_input_channels > 0``), with their ``index``."""
    return [d for d in _devices(sd) if d["max_input_channels"] > 0]


def resolve_input_device(sd: Any, spec: str | int | None) -> int:
    """The PortAudio index of the input device named by ``spec``.

    ``spec`` is None (default input, else the first input device), an index, or a
    case-insensitive part of the device name (an exact name wins over partial matches).
    """
    everything = _devices(sd)
    inputs = [d for d in everything if d["max_input_channels"] > 0]
    if not inputs:
        raise AudiokitError(f"no microphone: PortAudio lists no input device (devices: {describe(everything)})")
    listing = f"input devices: {', '.join(repr_dev(d) for d in inputs)}"
    if spec is None or spec == "":
        default = sd.default.device[0] if isinstance(sd.default.device, (list, tuple)) else sd.default.device
        ids = {d["index"] for d in inputs}
        return int(default) if default is not None and int(default) in ids else inputs[0]["index"]
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not any(d["index"] == index for d in inputs):
            raise AudiokitError(f"device {index} is not an input device; {listing}")
        return index
    exact = [d for d in inputs if d["name"].lower() == text.lower()]
    found = exact or [d for d in inputs if text.lower() in d["name"].lower()]
    if not found:
        raise AudiokitError(f"no input device matching '{text}'; {listing}")
    if len(found) > 1:
        raise AudiokitError(f"'{text}' matches several input devices "
                            f"({', '.join(repr_dev(d) for d in found)}); give the index")
    return found[0]["index"]


def repr_dev(d: dict) -> str:
    return f"{d['index']} '{d['name']}'"
