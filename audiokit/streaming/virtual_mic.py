"""A virtual microphone for headless tests: a private PulseAudio server with a pipe source.

::

    with VirtualMic(rate=16000) as mic:      # sets PULSE_SERVER for this process
        reinit_portaudio()                   # if sounddevice was imported before
        ... open sounddevice device "pulse" (or run `audiokit stream --mic pulse`) ...
        mic.inject(int16_samples)            # "speak" into it, real-time paced

How it works (and the traps it avoids):

* ``pulseaudio`` runs in the foreground as a child process with its own
  ``XDG_RUNTIME_DIR``/``HOME``/``XDG_CONFIG_HOME`` in a temporary directory, loading only
  a native-protocol socket (anonymous auth), a null sink and ``module-pipe-source``
  reading s16le mono from a FIFO. PortAudio reaches it through the ALSA ``pulse`` PCM.
* The pipe source produces no samples while nobody writes, which makes capture block and
  ``InputStream.stop()`` hang; so a feeder thread writes real-time-paced silence whenever
  no injected audio is queued, like a real microphone.
* PortAudio enumerates devices once, at ``import sounddevice``; a process that imported it
  before the server started must call
  :func:`audiokit.streaming.devices.reinit_portaudio`.
* On exit the feeder stops, the FIFO is closed, the server is terminated (killed after
  5 s), ``PULSE_SERVER`` is restored and the directory removed: no process is left.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

import numpy as np

from audiokit.errors import AudiokitError


class VirtualMic:
    """PulseAudio pipe-source microphone (see module docstring).

    Args:
        rate: sample rate of the source (Hz).
        chunk_ms: feeder granularity (ms).
        name: PulseAudio source name (also set as the default source).
    """

    def __init__(self, rate: int = 16000, chunk_ms: int = 10, name: str = "virtmic") -> None:
        self.rate, self.name = int(rate), name
        self.chunk = max(1, self.rate * chunk_ms // 1000)
        self.proc: subprocess.Popen | None = None
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._stop = threading.Event()
        self._injected = 0  # chunks queued by inject()
        self._written = 0  # injected chunks written to the FIFO
        self._thread: threading.Thread | None = None
        self._fifo_fh: Any = None
        self._tmp: Path | None = None
        self._old_server: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _env(self) -> dict[str, str]:
        assert self._tmp is not None
        env = dict(os.environ)
        env.update(XDG_RUNTIME_DIR=str(self.runtime), HOME=str(self._tmp / "home"),
                   XDG_CONFIG_HOME=str(self._tmp / "config"))
        env.pop("PULSE_SERVER", None)
        return env

    def start(self) -> None:
        """Start the server, wait for its socket and FIFO, start the feeder."""
        exe = shutil.which("pulseaudio")
        if exe is None:
            raise AudiokitError("VirtualMic needs the 'pulseaudio' program (apt-get install pulseaudio)")
        self._tmp = Path(tempfile.mkdtemp(prefix="audiokit-vmic-"))
        self.runtime = self._tmp / "run"
        for d in (self.runtime, self._tmp / "home", self._tmp / "config"):
            d.mkdir(mode=0o700)
        self.socket, self.fifo = self.runtime / "native", self.runtime / "mic.fifo"
        cmd = [exe, "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
               "--log-target=stderr", "--log-level=error",
               "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
               "-L", "module-null-sink sink_name=nullsink",
               "-L", (f"module-pipe-source source_name={self.name} file={self.fifo} "
                      f"format=s16le rate={self.rate} channels=1")]
        self.proc = subprocess.Popen(cmd, env=self._env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        self._old_server = os.environ.get("PULSE_SERVER")
        os.environ["PULSE_SERVER"] = f"unix:{self.socket}"
        if shutil.which("pactl"):
            subprocess.run(["pactl", "set-default-source", self.name], env=dict(os.environ),
                           capture_output=True, timeout=10, check=False)
        # the server holds the FIFO open for reading, so this does not block
        self._fifo_fh = os.fdopen(os.open(self.fifo, os.O_WRONLY), "wb", buffering=0)
        self._thread = threading.Thread(target=self._feed, name="virtual-mic-feeder", daemon=True)
        self._thread.start()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        for _ in range(100):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise AudiokitError(f"pulseaudio exited with code {self.proc.returncode}: "
                                    f"{' '.join(err.split())[-300:]}")
            if self.socket.exists() and self.fifo.exists():
                return
            time.sleep(0.05)
        raise AudiokitError("pulseaudio did not create its socket and FIFO within 5 s")

    def stop(self) -> None:
        """Stop the feeder and the server; remove the temporary directory."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._fifo_fh is not None:
            try:
                self._fifo_fh.close()
            except OSError:
                pass
            self._fifo_fh = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        if self._tmp is not None:
            if os.environ.get("PULSE_SERVER") == f"unix:{self.socket}":
                if self._old_server is None:
                    os.environ.pop("PULSE_SERVER", None)
                else:
                    os.environ["PULSE_SERVER"] = self._old_server
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # ------------------------------------------------------------------ audio
    def inject(self, samples: np.ndarray) -> None:
        """Queue int16 mono samples at :attr:`rate` (floats in [-1, 1] are converted)."""
        x = np.asarray(samples)
        if x.dtype != np.int16:
            x = np.clip(np.round(x.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
        for lo in range(0, len(x), self.chunk):
            part = x[lo:lo + self.chunk]
            if len(part) < self.chunk:
                part = np.concatenate([part, np.zeros(self.chunk - len(part), np.int16)])
            self._injected += 1
            self._queue.put(part)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until every injected sample was written to the source (False on timeout)."""
        end = time.monotonic() + timeout
        while self._written < self._injected:
            if time.monotonic() > end:
                return False
            time.sleep(0.01)
        return True

    def _feed(self) -> None:
        silence = np.zeros(self.chunk, np.int16).tobytes()
        t0, n = time.monotonic(), 0
        while not self._stop.is_set():
            try:
                data, injected = self._queue.get_nowait().tobytes(), True
            except queue.Empty:
                data, injected = silence, False
            try:
                self._fifo_fh.write(data)
            except (OSError, ValueError):
                return
            self._written += injected
            n += 1
            delay = t0 + n * self.chunk / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
