"""Regenerate ``wavtokenizer_backbone.safetensors`` from the WavTokenizer reference code.

Usage: ``python tests/unit/nn/data/make_wavtokenizer_backbone.py --ref PATH`` where PATH is
a checkout of https://github.com/jishengpeng/WavTokenizer (only ``decoder/models.py`` and
``decoder/modules.py`` are imported; the package ``__init__`` is bypassed because it pulls
in the whole training stack). Not run by the test suite.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent


def load_test_module():
    spec = importlib.util.spec_from_file_location("wt_test", HERE.parent / "test_wavtokenizer_backbone.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference(ref: Path):
    package = types.ModuleType("decoder")
    package.__path__ = [str(ref / "decoder")]
    sys.modules["decoder"] = package
    return importlib.import_module("decoder.models")


def git_head(ref: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", type=Path, required=True, help="WavTokenizer checkout")
    parser.add_argument("--commit", default=None, help="reference commit, if --ref is not a git checkout")
    args = parser.parse_args()
    t = load_test_module()
    models = load_reference(args.ref)
    ref = models.VocosBackbone(**t.CONFIG).eval()
    shapes = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    ref.load_state_dict(t.fixture_state_dict(shapes))
    with torch.no_grad():
        out = ref(t.fixture_input(), bandwidth_id=torch.tensor([t.BANDWIDTH_ID]))
    commit = args.commit or git_head(args.ref)
    meta = {"reference": "jishengpeng/WavTokenizer decoder/models.py", "commit": commit,
            "keys": ",".join(sorted(shapes))}
    save_file({"output": out.contiguous()}, str(HERE / "wavtokenizer_backbone.safetensors"), metadata=meta)
    print(f"wrote output {tuple(out.shape)} from commit {commit}")


if __name__ == "__main__":
    main()
