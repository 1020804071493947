#!/usr/bin/env python3
"""Build the mini_synth corpus for codec training: speech + rendered music, music split in two.

Usage (from egs/mini_synth/codec1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2 --music-songs 24 --music-test-songs 4

Writes data/{train,dev,test}/ (speech; the test voices are held out from train and dev),
data/music/ (every song), data/music_train/ and data/music_test/ (the last
--music-test-songs songs in C order of their ids are held out), data/wav/ and the corpus
stats. Rerunning with the same arguments resumes an interrupted build.
A missing engine is reported as one line naming the Debian package to install.
"""

from __future__ import annotations

import sys

from audiokit.data.synth.cli import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0], music_songs=24, music_test_songs=4,
                  rate_flag="--sample-rate"))
