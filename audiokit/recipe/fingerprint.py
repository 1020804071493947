"""Fingerprints of files and folders, and the hash that decides whether a stage reruns.

A file's fingerprint is either its content hash (``mode="content"``: SHA-256 of the bytes)
or its size and modification time in nanoseconds (``mode="stat"``, the default: cheap for
folders with thousands of wavs, and what Make and Kaldi rely on). A folder's fingerprint
covers every file below it, recursively, with paths relative to the folder, so adding,
removing, renaming or changing any file changes it. Hidden temporary files of atomic
writes (``.name.*.tmp``) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping

MODES = ("stat", "content")


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def _walk_files(root: Path) -> Iterator[Path]:
    """Every regular file below ``root`` in a stable (sorted) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not _is_temp(name):
                yield Path(dirpath) / name


def _file_digest(path: Path, mode: str) -> str:
    if mode == "content":
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                sha.update(block)
        return sha.hexdigest()
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def fingerprint_path(path: str | Path, mode: str = "stat") -> str | None:
    """A short hex digest of a file or folder (recursively); ``None`` if it does not exist."""
    if mode not in MODES:
        raise ValueError(f"fingerprint mode must be one of {MODES}, got {mode!r}")
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(f"file:{_file_digest(path, mode)}".encode()).hexdigest()[:16]
    if path.is_dir():
        sha = hashlib.sha256(b"dir")
        for file in _walk_files(path):
            rel = file.relative_to(path).as_posix()
            sha.update(f"\0{rel}\0{_file_digest(file, mode)}".encode())
        return sha.hexdigest()[:16]
    return None


def fingerprint_paths(
    paths: Mapping[str, Path], mode: str = "stat"
) -> dict[str, str | None]:
    """``{declared name: fingerprint}`` for each declared path (``None`` when missing)."""
    return {name: fingerprint_path(path, mode) for name, path in paths.items()}


def stage_hash(identity: Mapping[str, Any], config: Mapping[str, Any],
               inputs: Mapping[str, str | None]) -> str:
    """One digest of what a stage's result depends on: its identity, config values, inputs."""
    blob = json.dumps(
        {"identity": identity, "config": config, "inputs": inputs},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
