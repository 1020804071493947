"""Regenerate ``hificodec_reference.safetensors`` from the AcademiCodec (HiFi-Codec) reference code.

Usage: ``python tests/unit/models/codec/data/make_hificodec_reference.py --ref PATH`` where PATH
is a checkout of https://github.com/yangdongchao/AcademiCodec. Only
``academicodec/models/hificodec/models.py`` is imported; ``academicodec.utils`` (which pulls in
matplotlib and the training stack) is replaced by its two helpers used there. Not run by the
test suite.

For each configuration in ``PARITY`` the reference modules (``Encoder``, ``Quantizer``,
``Generator``) load the fixture weights from the released key layout (strictly, so the layout
written by ``official_key_shapes`` is checked too), then the script records what
``VQVAE.encode`` and ``VQVAE.forward`` compute: the latent, the codes ``[B, T, 4]``, the
reconstruction from those codes and the quantizer loss.
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


def load_helpers():
    spec = importlib.util.spec_from_file_location("hf_fixture", HERE.parent / "_hificodec_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference(ref: Path):
    utils = types.ModuleType("academicodec.utils")
    utils.get_padding = lambda kernel_size, dilation=1: int((kernel_size * dilation - dilation) / 2)
    utils.init_weights = lambda m, mean=0.0, std=0.01: None  # weights are overwritten anyway
    for name, path in (("academicodec", ref / "academicodec"), ("academicodec.models", ref / "academicodec/models"),
                       ("academicodec.models.hificodec", ref / "academicodec/models/hificodec")):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
    sys.modules["academicodec.utils"] = utils
    models = importlib.import_module("academicodec.models.hificodec.models")
    env = importlib.import_module("academicodec.models.hificodec.env")
    return models, env.AttrDict


def git_head(ref: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run_reference(models, attrdict, helpers, name: str) -> dict[str, torch.Tensor]:
    base, batch, length = helpers.PARITY[name]
    cfg = dict(base, resblock="1", codebook_loss_lambda=1.0, commitment_loss_lambda=0.25)
    h = attrdict(cfg)
    ckpt = helpers.official_checkpoint(helpers.official_key_shapes(cfg))
    encoder, quantizer, generator = models.Encoder(h), models.Quantizer(h), models.Generator(h)
    for module, group in ((encoder, "encoder"), (quantizer, "quantizer"), (generator, "generator")):
        module.load_state_dict(ckpt[group], strict=True)
        module.eval()
    wav = helpers.fixture_input(batch, length)
    with torch.no_grad():
        latent = encoder(wav)  # VQVAE.encode: encoder(x.unsqueeze(1)) on (B, L)
        _, loss, codes = quantizer(latent)
        codes = torch.stack([c.reshape(batch, -1) for c in codes], -1)  # [B, T, 4]
        output = generator(quantizer.embed(codes))  # VQVAE.forward
        margin = min_margin(quantizer, latent)
    print(f"{name}: latent {tuple(latent.shape)} codes {tuple(codes.shape)} output {tuple(output.shape)} "
          f"smallest argmin margin {margin:.3g}")
    return {f"{name}.latent": latent, f"{name}.codes": codes, f"{name}.output": output,
            f"{name}.loss": loss.reshape(1)}


def min_margin(quantizer, latent: torch.Tensor) -> float:
    """Smallest gap between the best and second-best distance of stage 1 (argmin robustness)."""
    rows = latent.transpose(1, 2).reshape(-1, latent.shape[1])
    gaps = []
    for x, m in zip(torch.split(rows, rows.shape[1] // len(quantizer.quantizer_modules), -1),
                    quantizer.quantizer_modules):
        w = m.embedding.weight
        d = (x ** 2).sum(1, keepdim=True) + (w ** 2).sum(1) - 2 * x @ w.T
        top = d.topk(2, largest=False).values
        gaps.append((top[:, 1] - top[:, 0]).min())
    return float(torch.stack(gaps).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", type=Path, required=True, help="AcademiCodec checkout")
    parser.add_argument("--commit", default=None, help="reference commit, if --ref is not a git checkout")
    args = parser.parse_args()
    helpers = load_helpers()
    models, attrdict = load_reference(args.ref)
    tensors = {}
    for name in helpers.PARITY:
        tensors.update(run_reference(models, attrdict, helpers, name))
    commit = args.commit or git_head(args.ref)
    meta = {"reference": "yangdongchao/AcademiCodec academicodec/models/hificodec/models.py", "commit": commit}
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(helpers.FIXTURE), metadata=meta)
    print(f"wrote {helpers.FIXTURE.name} from commit {commit}")


if __name__ == "__main__":
    main()
