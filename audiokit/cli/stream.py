"""``audiokit stream --model M (--mic [DEVICE] | --file X)``: live speech recognition.

Decisions (details in :mod:`audiokit.streaming`):

* One code path for both sources: chunks (100 ms) -> energy VAD + endpointing (sherpa's
  three rules) -> the model's streaming ``step`` -> display. The final text of an utterance
  is the model's flushed result up to the utterance's last loud sample, so for a file
  holding one utterance it equals ``audiokit transcribe`` on that file trimmed to its
  speech (with ``--vad none``: on the whole file).
* ``--file`` is paced in real time by default (``--no-realtime``: as fast as possible);
  other sample rates are resampled (microphone and file alike).
* No microphone -> one-line error listing the devices PortAudio sees. Ctrl-C ends the
  recognition normally (the open utterance is finalised, exit 0). Per-chunk latency and
  the real-time factor go to stderr at the end, with the number of dropped blocks when
  recognition fell behind the microphone.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "stream", help="recognise speech live from a microphone or a file",
        description="Streaming speech recognition with endpointing: partial results as they change, "
        "one final line per utterance; latency statistics on stderr at the end.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mic", nargs="?", const="", metavar="DEVICE",
                     help="capture from a microphone (default input, or an index / part of a device name)")
    src.add_argument("--file", metavar="AUDIO", help="read an audio file as if it were live")
    src.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("--model", metavar="PATH_OR_NAME", help="streaming ASR model folder (required to recognise)")
    p.add_argument("--lookahead", type=float, default=None, metavar="MS",
                   help="attention look-ahead in ms, among those the model was trained with (default: its first)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True,
                   help="pace --file in real time (default) or read it as fast as possible")
    p.add_argument("--format", choices=("auto", "text", "jsonl"), default="auto",
                   help="auto: live line on a terminal, plain lines otherwise; jsonl: one JSON event per line")
    p.add_argument("--no-partials", dest="partials", action="store_false", help="print final results only")
    p.add_argument("--vad", choices=("energy", "silero", "none"), default="energy",
                   help="voice activity detector (default energy; none: endpoints only at the end/max length)")
    p.add_argument("--vad-threshold", type=float, default=-40.0, metavar="DBFS",
                   help="energy VAD: samples at least this loud are speech (default -40 dBFS)")
    p.add_argument("--endpoint-silence", type=float, default=1.2, metavar="S",
                   help="end an utterance after S s of silence following decoded speech (default 1.2)")
    p.add_argument("--max-utterance", type=float, default=20.0, metavar="S",
                   help="longest utterance in seconds (default 20)")
    p.add_argument("--max-utterances", type=int, default=None, metavar="N", help="stop after N final results")
    p.add_argument("--max-seconds", type=float, default=None, metavar="S", help="stop after S s of audio")
    p.add_argument("--queue-seconds", type=float, default=30.0, metavar="S",
                   help="microphone buffer; older audio is dropped when recognition falls behind (default 30)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="torch CPU threads (default 1: small chunks gain little from more, and a busy "
                   "machine loses a lot)")
    return p


def _list_devices() -> int:
    from audiokit.streaming.devices import describe, import_sounddevice

    sd = import_sounddevice()
    devices = [dict(d, index=i) for i, d in enumerate(sd.query_devices())]
    print(f"audio devices: {describe(devices)}")
    return 0


def _check_args(args: argparse.Namespace) -> None:
    from audiokit.errors import AudiokitError

    if not args.model:
        raise AudiokitError("--model is required (a streaming ASR model folder)")
    for name in ("endpoint_silence", "max_utterance"):
        if getattr(args, name) <= 0:
            raise AudiokitError(f"--{name.replace('_', '-')} must be positive")
    if args.max_utterances is not None and args.max_utterances < 1:
        raise AudiokitError("--max-utterances must be at least 1")
    if args.max_seconds is not None and args.max_seconds <= 0:
        raise AudiokitError("--max-seconds must be positive")
    if args.queue_seconds <= 0:
        raise AudiokitError("--queue-seconds must be positive")
    if args.threads < 1:
        raise AudiokitError("--threads must be at least 1")


def _source(args: argparse.Namespace, sample_rate: int) -> Any:
    from audiokit.streaming.sources import FileSource, MicSource

    if args.file is not None:
        return FileSource(args.file, sample_rate, realtime=args.realtime)
    return MicSource(args.mic or None, sample_rate, max_queue_s=args.queue_seconds)


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        return _list_devices()
    _check_args(args)
    from audiokit.cli.encode import check_device
    from audiokit.streaming.devices import import_sounddevice, resolve_input_device
    from audiokit.streaming.sources import FileSource

    if args.mic is not None:  # fail fast, before loading the model
        resolve_input_device(import_sounddevice(), args.mic or None)
    else:
        FileSource(args.file, 16000)  # checks the file (missing, corrupt, empty)

    import torch

    from audiokit.streaming.display import Display
    from audiokit.streaming.endpoint import (
        EndpointConfig,
        EndpointRule,
        SpeechGate,
        make_vad,
    )
    from audiokit.streaming.recognizer import (
        LatencyStats,
        StreamingRecognizer,
        run_stream,
    )
    from audiokit.streaming.transcriber import load_asr

    torch.set_num_threads(args.threads)
    model = load_asr(args.model, device=check_device(args.device), lookahead_ms=args.lookahead)
    sr = int(model.sample_rate)
    rules = EndpointConfig(rule1=EndpointRule(False, max(2.4, 2 * args.endpoint_silence), 0.0),
                           rule2=EndpointRule(True, args.endpoint_silence, 0.0),
                           rule3=EndpointRule(False, 0.0, args.max_utterance))
    gate = SpeechGate(sr, make_vad(args.vad, sr, args.vad_threshold), rules,
                      min_speech=0.0 if args.vad == "none" else 0.1)
    mode = {"auto": "auto", "text": "plain", "jsonl": "jsonl"}[args.format]
    display = Display(sys.stdout, mode, partials=args.partials)
    stats = LatencyStats(sr)
    source = _source(args, sr)
    try:
        with source:
            if args.mic is not None:
                source.open()
                print(f"audiokit stream: listening on {source.name} at {source.capture_rate} Hz "
                      "(Ctrl-C to stop)", file=sys.stderr, flush=True)
            finals = run_stream(source, StreamingRecognizer(model), gate, display,
                                max_utterances=args.max_utterances, max_seconds=args.max_seconds, stats=stats)
    finally:
        display.close()
    print(f"audiokit stream: {len(finals)} utterance(s); {stats.format()}", file=sys.stderr)
    if source.dropped_blocks:
        print(f"audiokit stream: warning: dropped {source.dropped_blocks} audio blocks "
              f"({source.dropped_blocks * source.block_seconds:.1f} s): recognition was slower than real time",
              file=sys.stderr)
    return 0
