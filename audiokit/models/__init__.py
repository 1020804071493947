"""Models: compositions of the shared layers, one file per model family."""
