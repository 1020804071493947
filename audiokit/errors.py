"""User-facing errors.

Every mistake a user can make (a missing file, a malformed data dir, a config that
names a foreign class, ...) raises :class:`AudiokitError` (or a subclass). The CLI
prints its message as one line on stderr and exits non-zero, without a traceback.
Programming errors stay ordinary exceptions and keep their traceback.
"""

from __future__ import annotations


class AudiokitError(Exception):
    """An error caused by user input; its message is shown as one line."""

    exit_code = 2

    def one_line(self) -> str:
        """The message folded onto a single line."""
        return " ".join(str(self).split())


class AudioError(AudiokitError):
    """Audio that cannot be read, or is not what the caller asked for."""


class DataDirError(AudiokitError):
    """A Kaldi data directory that is malformed."""


class ConfigError(AudiokitError):
    """A configuration file or override that cannot be used."""


class CheckpointError(AudiokitError):
    """A checkpoint that cannot be loaded."""
