"""Audio and file I/O: audio read/write/resample, atomic writes, codes containers."""
