#!/usr/bin/env python3
"""Build the mini_synth speech corpus for ASR: data/{train,dev,test} with held-out test voices.

Usage (from egs/mini_synth/asr1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2

Writes data/{train,dev,test}/ Kaldi dirs (16 kHz speech from Debian TTS voices with exact
transcripts; the test voices are never heard in train or dev), data/wav/ and the corpus stats.
Rerunning with the same arguments resumes an interrupted build. A missing engine is reported
as one line naming the Debian package to install.
"""

from __future__ import annotations

import sys

from audiokit.data.synth.cli import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0]))
