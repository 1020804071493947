"""Live recognition runtime: audio sources, endpointing, display, the recogniser loop.

* :mod:`audiokit.streaming.sources` — :class:`FileSource`, :class:`MicSource`,
  :class:`ArraySource`: float32 mono chunks ``(t,)`` at the model rate, one interface.
* :mod:`audiokit.streaming.endpoint` — energy / Silero VAD and the speech gate with
  sherpa's three endpoint rules.
* :mod:`audiokit.streaming.recognizer` — :class:`StreamingRecognizer` (wraps a model's
  ``init_state``/``step``/finalize) and :func:`run_stream`, the capture -> gate -> model ->
  display loop with latency statistics.
* :mod:`audiokit.streaming.display` — partial line (TTY overwrite / plain lines / JSON lines).
* :mod:`audiokit.streaming.virtual_mic` — :class:`VirtualMic`, a PulseAudio pipe-source
  microphone for headless tests.

Importing this package imports nothing heavy (numpy, torch, sounddevice are imported by
the modules that need them).
"""
