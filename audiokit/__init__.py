"""audiokit: neural audio codecs and speech models on one set of shared modules.

Importing this package is cheap: it does not import torch, lightning or any model
code. Sub-packages are imported on demand.
"""

__version__ = "0.1.0"

from audiokit.errors import AudiokitError  # noqa: E402  (light module, no torch)

__all__ = ["AudiokitError", "__version__"]
