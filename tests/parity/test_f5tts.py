"""Parity: audiokit F5-TTS vs the reference ``f5-tts`` 1.1.22 (fp32 CPU, max abs diff <= 1e-4).

The committed fixture (``tests/parity/f5tts/``, made by ``make_fixture.py`` from the reference)
holds two tiny random-weight models in the released ``ema_model.`` safetensors layout (v1: RoPE
on all heads; v0: ``pe_attn_head=1``) with fixed inputs and the reference's flow fields and
NFE-4 samples. The weights are loaded through :func:`audiokit.convert.f5tts.load_f5tts`. When
``f5_tts`` is importable the fixture is also regenerated live and compared.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from audiokit.convert.f5tts import load_f5tts
from audiokit.models.tts.f5tts import lens_to_mask

TOL = 1e-4
FIXTURE_DIR = Path(__file__).resolve().parent / "f5tts"


def audiokit_args(ref: dict) -> dict:
    """F5TTS init args matching a reference DiT config (the parts shapes cannot tell)."""
    return {"heads": ref["heads"], "pe_attn_head": ref["pe_attn_head"], "text_mask_padding": ref["text_mask_padding"],
            "attn_mask": ref["attn_mask_enabled"], "dropout": ref["dropout"]}


def read_fixture(folder: Path) -> tuple[dict, dict]:
    with safe_open(str(folder / "fixture.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def audiokit_outputs(model, t: dict, samples: dict, nfe: int, seed: int) -> dict:
    tr = model.transformer
    x, cond, text, time, lens = (t[f"input.{k}"] for k in ("x", "cond", "text", "time", "lens"))
    mask = lens_to_mask(lens, x.shape[1])
    out = {}
    with torch.no_grad():
        plain = tr.embed_text(text, x.shape[1])
        out["flow_plain"] = tr(x, cond, plain, time)
        out["flow_masked"] = tr(x, cond, tr.embed_text(text, lens), time, mask)
        out["flow_drop"] = tr(x, cond, tr.embed_text(text, x.shape[1], drop_text=True), time, drop_audio_cond=True)
        v = model.velocity_fn(cond, text, mask, cfg_strength=1.0)
        packed_c = tr(x, cond, tr.embed_text(text, lens), time, mask)
        packed_u = tr(x, cond, tr.embed_text(text, lens, drop_text=True), time, mask, drop_audio_cond=True)
        out["flow_cfg_packed"] = torch.cat((packed_c, packed_u))
        out["cfg_combined"] = (v(x, time), 2 * packed_c - packed_u)
        for case, (cfg, sway, batch) in samples.items():
            out[f"sample_{case}"] = model.sample(
                t["input.prompt"][:batch], text[:batch], t["input.duration"][:batch],
                lens=t["input.prompt_lens"][:batch], nfe=nfe, cfg_strength=cfg, sway_coef=sway, seed=seed,
            )
    return out


def check_folder(folder: Path) -> None:
    tensors, meta = read_fixture(folder)
    variants, samples = json.loads(meta["variants"]), json.loads(meta["samples"])
    for name, ref_cfg in variants.items():
        model, _ = load_f5tts(folder / f"{name}_model.safetensors", config=audiokit_args(ref_cfg))
        ours = audiokit_outputs(model, tensors, samples, int(meta["nfe"]), int(meta["seed"]))
        got, want = ours.pop("cfg_combined")
        assert (got - want).abs().max() <= TOL
        for key, value in ours.items():
            ref = tensors[f"{name}.{key}"]
            assert value.shape == ref.shape, (name, key)
            diff = (value - ref).abs().max().item()
            assert diff <= TOL, f"{name}.{key}: max abs diff {diff:.3g}"


def test_committed_fixture_matches():
    check_folder(FIXTURE_DIR)


def test_v0_head_rule_matters():
    """Loading the v0 weights with RoPE on all heads must NOT match (the fixture can tell)."""
    tensors, meta = read_fixture(FIXTURE_DIR)
    ref_cfg = dict(json.loads(meta["variants"])["v0"], pe_attn_head=None)
    model, _ = load_f5tts(FIXTURE_DIR / "v0_model.safetensors", config=audiokit_args(ref_cfg))
    x, cond, text, time = (tensors[f"input.{k}"] for k in ("x", "cond", "text", "time"))
    with torch.no_grad():
        flow = model.transformer(x, cond, model.transformer.embed_text(text, x.shape[1]), time)
    assert (flow - tensors["v0.flow_plain"]).abs().max() > 1e-3


@pytest.mark.skipif(importlib.util.find_spec("f5_tts") is None, reason="f5-tts not installed (CI uses the fixture)")
def test_live_reference_matches(tmp_path):
    make = _load_maker()
    make.build_fixture(tmp_path)
    check_folder(tmp_path)


def _load_maker():
    spec = importlib.util.spec_from_file_location("f5tts_make_fixture", FIXTURE_DIR / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
