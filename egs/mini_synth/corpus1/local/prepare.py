#!/usr/bin/env python3
"""Build the mini_synth corpus (speech + optional music) into a data folder.

Usage (from egs/mini_synth/corpus1)::

    python local/prepare.py --out data --size default --seed 0 --jobs 2 --music-songs 20

Writes data/{train,dev,test}/ Kaldi dirs, data/wav/, data/stats.{json,txt},
data/versions.txt and, unless --music-songs 0, data/music/. wav.scp paths are
relative to the current folder when --out is relative. Rerunning with the same
arguments resumes an interrupted build; other arguments rebuild in place.
A missing engine is reported as one line naming the Debian package to install.
"""

from __future__ import annotations

import sys

from audiokit.data.synth.cli import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__.splitlines()[0], music_songs=0))
