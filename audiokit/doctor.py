"""Environment report behind ``audiokit doctor``.

Collects versions of the core stack, optional extras, external programs (TTS engines,
sox, fluidsynth, pulseaudio) and audio input devices, each with an install hint.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import platform
import shutil
import subprocess
from typing import Any

#: python distribution -> (import name, hint)
CORE = {
    "torch": ("torch", "pip install -e ."),
    "torchaudio": ("torchaudio", "pip install -e ."),
    "librosa": ("librosa", "pip install -e ."),
    "soundfile": ("soundfile", "pip install -e ."),
    "lightning": ("lightning", "pip install -e ."),
    "vocos": ("vocos", "pip install -e ."),
    "numpy": ("numpy", "pip install -e ."),
    "safetensors": ("safetensors", "pip install -e ."),
}
EXTRAS = {
    "sentencepiece": ("asr", "pip install -e '.[asr]'"),
    "jiwer": ("asr", "pip install -e '.[asr]'"),
    "pesq": ("metrics", "pip install -e '.[metrics]'"),
    "pystoi": ("metrics", "pip install -e '.[metrics]'"),
    "sounddevice": ("mic", "pip install -e '.[mic]' && apt-get install libportaudio2"),
    "mido": ("corpus", "pip install -e '.[corpus]'"),
    "encodec": ("parity", "pip install -e '.[parity]'"),
    "transformers": ("parity", "pip install -e '.[parity]'"),
    "pytest": ("dev", "pip install -e '.[dev]'"),
}
#: program -> (Debian package, what it is for)
PROGRAMS = {
    "espeak-ng": ("espeak-ng", "mini_synth voices"),
    "flite": ("flite", "mini_synth voices"),
    "festival": ("festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts", "mini_synth voices"),
    "sox": ("sox libsox-fmt-all", "mini_synth audio processing"),
    "fluidsynth": ("fluidsynth timgm6mb-soundfont", "mini_synth music"),
    "pulseaudio": ("pulseaudio pulseaudio-utils libasound2-plugins", "virtual microphone tests"),
    "mbrola": ("mbrola mbrola-us1 (contrib/non-free, optional)", "extra voices"),
    "pico2wave": ("libttspico-utils (non-free, optional)", "extra voices"),
}
OPTIONAL_PROGRAMS = {"mbrola", "pico2wave", "pulseaudio"}


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _import_ok(name: str) -> str | None:
    """None if ``name`` imports, else the one-line reason."""
    try:
        importlib.import_module(name)
    except Exception as err:  # a broken install is a finding, not a crash
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def _program_version(prog: str) -> str | None:
    path = shutil.which(prog)
    if path is None:
        return None
    flag = {"festival": "--version", "flite": "--version", "sox": "--version"}.get(prog, "--version")
    try:
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "present"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0][:80] if text else "present"


def _audio_devices() -> dict[str, Any]:
    try:
        import sounddevice as sd
    except Exception as err:
        return {"available": False, "reason": f"{type(err).__name__}: {err}".splitlines()[0],
                "hint": "pip install -e '.[mic]' && apt-get install libportaudio2"}
    try:
        devices = [d["name"] for d in sd.query_devices() if d["max_input_channels"] > 0]
    except Exception as err:
        return {"available": False, "reason": str(err).splitlines()[0]}
    return {"available": bool(devices), "inputs": devices,
            "reason": None if devices else "no input device (no sound card)"}


def collect_report() -> dict[str, Any]:
    """Gather the whole report as a JSON-serialisable dict."""
    from audiokit import __version__

    core = {}
    missing_required = []
    for dist, (mod, hint) in CORE.items():
        ver = _version(dist)
        err = _import_ok(mod) if ver else "not installed"
        core[dist] = {"version": ver, "ok": err is None, "error": err, "hint": None if err is None else hint}
        if err is not None:
            missing_required.append(dist)
    extras = {}
    for dist, (extra, hint) in EXTRAS.items():
        ver = _version(dist)
        extras[dist] = {"extra": extra, "version": ver, "hint": None if ver else hint}
    programs = {}
    for prog, (pkg, purpose) in PROGRAMS.items():
        ver = _program_version(prog)
        programs[prog] = {"version": ver, "purpose": purpose, "optional": prog in OPTIONAL_PROGRAMS,
                          "hint": None if ver else f"apt-get install {pkg}"}
    torch_info: dict[str, Any] = {}
    if core["torch"]["ok"]:
        import torch

        torch_info = {"cuda_available": torch.cuda.is_available(), "threads": torch.get_num_threads()}
    return {
        "audiokit": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "core": core,
        "torch": torch_info,
        "extras": extras,
        "programs": programs,
        "audio_devices": _audio_devices(),
        "missing_required": missing_required,
    }


def format_report(report: dict[str, Any]) -> str:
    """Human-readable report: one line per item, hints for what is missing."""
    lines = [f"audiokit {report['audiokit']}  python {report['python']}  {report['platform']}", "", "core:"]
    for name, item in report["core"].items():
        state = item["version"] if item["ok"] else f"MISSING ({item['error']}) -> {item['hint']}"
        lines.append(f"  {name:<14} {state}")
    if report["torch"]:
        lines.append(f"  {'cuda':<14} {'yes' if report['torch']['cuda_available'] else 'no'}")
    lines += ["", "extras:"]
    for name, item in report["extras"].items():
        state = item["version"] or f"not installed -> {item['hint']}"
        lines.append(f"  {name:<14} [{item['extra']}] {state}")
    lines += ["", "programs:"]
    for name, item in report["programs"].items():
        opt = " (optional)" if item["optional"] else ""
        state = item["version"] or f"not found{opt} -> {item['hint']}"
        lines.append(f"  {name:<14} {state}  ({item['purpose']})")
    dev = report["audio_devices"]
    lines += ["", "audio input devices:"]
    if dev.get("inputs"):
        lines += [f"  {d}" for d in dev["inputs"]]
    else:
        hint = f" -> {dev['hint']}" if dev.get("hint") else ""
        lines.append(f"  none: {dev.get('reason')}{hint}")
    if report["missing_required"]:
        lines += ["", "MISSING required packages: " + ", ".join(report["missing_required"])]
    return "\n".join(lines)
