"""Kaldi data directories, datasets, samplers and offline synthetic corpora."""
