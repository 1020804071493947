"""F5-TTS checkpoint reader: released layouts, vocabulary, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from audiokit.checkpoint import load_pretrained
from audiokit.convert.f5tts import convert_f5tts, load_f5tts, read_state, read_vocab
from audiokit.errors import CheckpointError, ConfigError
from audiokit.models.tts import F5TTS

ARGS = dict(dim=32, depth=2, heads=2, ff_mult=2, mel_dim=16, vocab_size=5, text_dim=16, conv_layers=1, dropout=0.0)
CFG = {"heads": 2, "dropout": 0.0}
VOCAB = " \na\nb\nc\n.\n"


def official_state(model: F5TTS) -> dict[str, torch.Tensor]:
    """audiokit names -> the released names (inverse of the converter's renames)."""
    out = {}
    for k, v in model.state_dict().items():
        k = (k.replace(".attn.linear_out.", ".attn.to_out.0.").replace(".attn.linear_", ".attn.to_")
             .replace(".ff.0.", ".ff.ff.0.0.").replace(".ff.3.", ".ff.ff.2."))
        out[k] = v.clone()
    out["transformer.rotary_embed.inv_freq"] = torch.ones(8)
    return out


@pytest.fixture()
def model():
    torch.manual_seed(0)
    m = F5TTS(**ARGS)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return m.eval()


@pytest.fixture()
def files(tmp_path, model):
    state = {f"ema_model.{k}": v for k, v in official_state(model).items()}
    state.update(initted=torch.tensor(True), step=torch.tensor(5))
    st = tmp_path / "model_100.safetensors"
    save_file(state, str(st))
    vocab = tmp_path / "vocab.txt"
    vocab.write_text(VOCAB, encoding="utf-8")
    return st, vocab


def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_safetensors_layout(files, model):
    loaded, vocab = load_f5tts(files[0], config=CFG, vocab=files[1])
    assert same(loaded, model) and len(vocab) == 5 and vocab.encode("ab") == [1, 2]


def test_pt_layouts_ema_and_raw(tmp_path, model):
    raw = {k: v + 1 for k, v in official_state(model).items()}
    ema = {f"ema_model.{k}": v for k, v in official_state(model).items()}
    path = tmp_path / "model_5.pt"
    torch.save({"ema_model_state_dict": {**ema, "initted": torch.tensor(True), "step": torch.tensor(1)},
                "model_state_dict": raw, "update": 5}, path)
    assert same(load_f5tts(path, config=CFG)[0], model)
    assert not same(load_f5tts(path, config=CFG, use_ema=False)[0], model)


def test_convert_round_trip(files, model, tmp_path):
    out = convert_f5tts(files[0], tmp_path / "conv", vocab=files[1], config=CFG)
    assert (out / "vocab.txt").read_text() == VOCAB
    assert same(load_pretrained(out), model)


def one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_corrupt_file(tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError) as err:
        load_f5tts(bad, config=CFG)
    assert str(bad) in one_line(err.value)
    with pytest.raises(CheckpointError, match="no such file"):
        load_f5tts(tmp_path / "missing.safetensors", config=CFG)
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError):
        read_state(pt)


def test_vocab_errors(files, tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_f5tts(files[0], config=CFG, vocab=tmp_path / "nope.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("a\n b\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"bad.txt:1: the first token must be the space"):
        read_vocab(bad)
    small = tmp_path / "small.txt"
    small.write_text(" \na\n", encoding="utf-8")
    with pytest.raises(CheckpointError) as err:
        load_f5tts(files[0], config=CFG, vocab=small)
    assert "2 tokens" in one_line(err.value)


def test_key_mismatch(tmp_path, model):
    state = {f"ema_model.{k}": v for k, v in official_state(model).items()}
    extra = dict(state, **{"ema_model.transformer.long_skip_connection.weight": torch.zeros(2, 2)})
    save_file(extra, str(tmp_path / "extra.safetensors"))
    with pytest.raises(CheckpointError, match="long_skip_connection"):
        load_f5tts(tmp_path / "extra.safetensors", config=CFG)
    missing = {k: v for k, v in state.items() if "attn.to_q.bias" not in k}
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(CheckpointError, match="missing"):
        load_f5tts(tmp_path / "missing.safetensors", config=CFG)
    foreign = {"encoder.weight": torch.zeros(2)}
    save_file(foreign, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="ema_model"):
        load_f5tts(tmp_path / "foreign.safetensors", config=CFG)


def test_config_contradicting_shapes(files):
    with pytest.raises(CheckpointError, match="dim is 1024 there but 32"):
        load_f5tts(files[0])  # default: the v1 Base config
    with pytest.raises(ConfigError):
        load_f5tts(files[0], config=files[1])  # not a YAML model config


def test_release_configs_build():
    from audiokit.convert.f5tts import CONFIG_DIR, config_args

    v1, v0 = config_args(CONFIG_DIR / "f5tts_v1_base.yaml"), config_args(CONFIG_DIR / "f5tts_base.yaml")
    assert v1["pe_attn_head"] is None and v1["text_mask_padding"] is True
    assert v0["pe_attn_head"] == 1 and v0["text_mask_padding"] is False
    model = F5TTS(**config_args(CONFIG_DIR / "f5tts_debug.yaml"))
    assert model.transformer.dim == 64


def test_import_audiokit_stays_light():
    code = "import audiokit.convert.f5tts, sys; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
