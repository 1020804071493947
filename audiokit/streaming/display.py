"""Showing live results: partial hypotheses as they change, final lines at endpoints.

Modes:

* ``tty`` — the partial is one line redrawn in place (``\\r`` + clear-line); a final
  replaces it as ``[  1.20 -   3.45] text`` and the next partial starts below.
* ``plain`` (output is a pipe or file) — every changed partial is a line
  ``... text``; finals are ``[1.20-3.45] text`` lines.
* ``jsonl`` — one JSON object per event: ``{"type": "partial", "text", "start"}`` and
  ``{"type": "final", "text", "start", "end", "reason"}``.

``auto`` picks ``tty`` when the stream is a terminal, else ``plain``.
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any, TextIO

MODES = ("auto", "tty", "plain", "jsonl")


class Display:
    """Prints partial and final results to ``out`` (default stdout)."""

    def __init__(self, out: TextIO | None = None, mode: str = "auto", partials: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"display mode {mode!r} not in {MODES}")
        self.out = out if out is not None else sys.stdout
        if mode == "auto":
            mode = "tty" if getattr(self.out, "isatty", lambda: False)() else "plain"
        self.mode, self.show_partials = mode, partials
        self._last = ""
        self._line_open = False

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def partial(self, text: str, start: float) -> None:
        """Show the current hypothesis of the utterance that started at ``start`` s (if changed)."""
        text = text.strip()
        if not self.show_partials or text == self._last or not text:
            return
        self._last = text
        if self.mode == "jsonl":
            self._write(json.dumps({"type": "partial", "text": text, "start": round(start, 3)},
                                   ensure_ascii=False) + "\n")
        elif self.mode == "plain":
            self._write(f"... {text}\n")
        else:
            width = max(20, shutil.get_terminal_size((80, 20)).columns - 1)
            shown = text if len(text) + 4 <= width else "…" + text[-(width - 5):]
            self._write(f"\r\033[K... {shown}")
            self._line_open = True

    def final(self, utt: Any) -> None:
        """Show a finalised utterance (``text``, ``start``, ``end``, ``reason``)."""
        self._last = ""
        if self.mode == "jsonl":
            self._write(json.dumps({"type": "final", "text": utt.text, "start": round(utt.start, 3),
                                    "end": round(utt.end, 3), "reason": utt.reason}, ensure_ascii=False) + "\n")
        elif self.mode == "plain":
            self._write(f"[{utt.start:.2f}-{utt.end:.2f}] {utt.text}\n")
        else:
            self._write(f"\r\033[K[{utt.start:7.2f} - {utt.end:7.2f}] {utt.text}\n")
            self._line_open = False

    def close(self) -> None:
        """End an open partial line (TTY)."""
        if self._line_open:
            self._write("\r\033[K")
            self._line_open = False
