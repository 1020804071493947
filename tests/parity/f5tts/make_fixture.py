"""Generate the F5-TTS parity fixture from the REFERENCE implementation (never from audiokit).

Needs ``pip install --no-deps f5-tts==1.1.22`` plus x-transformers, torchdiffeq, rjieba, pypinyin
(the trainer that ``f5_tts/model/__init__.py`` imports is skipped: the package module is
replaced by a bare namespace before ``f5_tts.model.backbones.dit`` and ``f5_tts.model.cfm`` load).

For two tiny random-weight models (``v1``: RoPE on all heads, filler re-masking; ``v0``:
``pe_attn_head=1``, no re-masking) it writes

* ``<name>_model.safetensors``: weights in the released layout (``ema_model.``-prefixed, plus
  the scalar ``initted``/``step`` entries);
* ``fixture.safetensors``: fixed inputs and reference outputs: flow fields (no mask, padded
  batch with mask, audio+text dropped, packed CFG) and ``CFM.sample`` results (NFE 4, seed 7;
  no sway + CFG 2, sway -1 + CFG 2, sway -1 without CFG, a single item), per model.

Run: ``python tests/parity/f5tts/make_fixture.py [OUT_DIR]`` (default: this folder).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
MEL, VOCAB = 16, 20
COMMON = dict(dim=32, depth=2, heads=2, dim_head=16, ff_mult=2, mel_dim=MEL, text_num_embeds=VOCAB, text_dim=16,
              conv_layers=1, dropout=0.0, attn_mask_enabled=False)
VARIANTS = {
    "v1": dict(COMMON, text_mask_padding=True, pe_attn_head=None),
    "v0": dict(COMMON, text_mask_padding=False, pe_attn_head=1),
}
#: sampling cases: name -> (cfg_strength, sway coefficient, batch slice)
SAMPLES = {"cfg": (2.0, None, 2), "cfg_sway": (2.0, -1.0, 2), "nocfg_sway": (0.0, -1.0, 2), "single": (2.0, -1.0, 1)}
NFE, SEED = 4, 7


def import_reference() -> tuple[types.ModuleType, types.ModuleType]:
    """``(f5_tts.model.backbones.dit, f5_tts.model.cfm)`` without importing the trainer."""
    spec = importlib.util.find_spec("f5_tts")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("f5_tts is not installed")
    if "f5_tts.model" not in sys.modules:
        bare = types.ModuleType("f5_tts.model")
        bare.__path__ = [os.path.join(next(iter(spec.submodule_search_locations)), "model")]
        sys.modules["f5_tts.model"] = bare
    return importlib.import_module("f5_tts.model.backbones.dit"), importlib.import_module("f5_tts.model.cfm")


def build_reference(name: str, seed: int):
    """A random-weight reference ``CFM`` (eval mode) for variant ``name``."""
    dit, cfm = import_reference()
    torch.manual_seed(seed)
    model = cfm.CFM(transformer=dit.DiT(**VARIANTS[name]), num_channels=MEL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def released_layout(model) -> dict[str, torch.Tensor]:
    """The state dict as ``model_*.safetensors`` ships it."""
    out = {f"ema_model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    out["initted"] = torch.tensor(True)
    out["step"] = torch.tensor(1000)
    return out


def make_inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    text = torch.randint(0, VOCAB, (2, 9), generator=g)
    text[1, 6:] = -1
    return {
        "x": torch.randn(2, 12, MEL, generator=g), "cond": torch.randn(2, 12, MEL, generator=g),
        "text": text, "time": torch.rand(2, generator=g), "lens": torch.tensor([12, 9]),
        "prompt": torch.randn(2, 6, MEL, generator=g), "prompt_lens": torch.tensor([6, 4]),
        "duration": torch.tensor([14, 11]),
    }


def reference_outputs(model, inp: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Flow fields and samples of one reference model."""
    tr = model.transformer
    mask = torch.arange(12)[None, :] < inp["lens"][:, None]
    out = {}
    with torch.no_grad():
        args = dict(x=inp["x"], cond=inp["cond"], text=inp["text"], time=inp["time"])
        out["flow_plain"] = tr(**args)
        out["flow_masked"] = tr(**args, mask=mask)
        out["flow_drop"] = tr(**args, drop_audio_cond=True, drop_text=True)
        out["flow_cfg_packed"] = tr(**args, mask=mask, cfg_infer=True)
        for case, (cfg, sway, batch) in SAMPLES.items():
            sample, _ = model.sample(
                cond=inp["prompt"][:batch], text=inp["text"][:batch], duration=inp["duration"][:batch],
                lens=inp["prompt_lens"][:batch], steps=NFE, cfg_strength=cfg, sway_sampling_coef=sway, seed=SEED,
            )
            out[f"sample_{case}"] = sample
    return out


def build_fixture(out_dir: str | os.PathLike) -> Path:
    """Write the weight files and ``fixture.safetensors`` into ``out_dir``; returns its path."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    inp = make_inputs()
    tensors = {f"input.{k}": v for k, v in inp.items()}
    for i, name in enumerate(VARIANTS):
        model = build_reference(name, seed=100 + i)
        save_file(released_layout(model), str(out_dir / f"{name}_model.safetensors"))
        tensors.update({f"{name}.{k}": v.contiguous() for k, v in reference_outputs(model, inp).items()})
    meta = {"variants": json.dumps(VARIANTS), "samples": json.dumps(SAMPLES), "nfe": str(NFE), "seed": str(SEED),
            "reference": "f5-tts 1.1.22"}
    path = out_dir / "fixture.safetensors"
    save_file(tensors, str(path), metadata=meta)
    return path


if __name__ == "__main__":
    print(build_fixture(sys.argv[1] if len(sys.argv) > 1 else HERE))
