#!/usr/bin/env python3
"""Build the mini_synth speech corpus for TTS: data/{train,dev,test} (test voices held out).

Usage (from egs/mini_synth/tts1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2

Every utterance has its exact transcript (the synthesiser spoke it). Rerunning with the same
arguments resumes an interrupted build. A missing engine is reported as one line naming the
Debian package to install.
"""

from __future__ import annotations

import sys

from audiokit.data.synth.cli import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0]))
