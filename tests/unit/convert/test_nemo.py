"""The ``.nemo`` reader: synthetic archives in the released layout, safe extraction, errors."""

from __future__ import annotations

import copy
import io
import tarfile
from pathlib import Path

import pytest
import torch
import yaml

from audiokit.checkpoint import load_pretrained
from audiokit.convert.nemo import (
    convert_nemo,
    from_state,
    read_nemo,
    safe_extract,
    sniff,
)
from audiokit.errors import AudiokitError, CheckpointError
from audiokit.models.asr import StreamingASR
from audiokit.text import SentencePieceTokenizer, load_tokenizer

HYBRID = "nemo.collections.asr.models.hybrid_rnnt_ctc_bpe_models.EncDecHybridRNNTCTCBPEModel"
CTC = "nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE"
SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "she sells sea shells",
             "keep an eye on the baby please", "he had eyes of bright blue", "held them in check"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> SentencePieceTokenizer:
    d = tmp_path_factory.mktemp("spm")
    (d / "text").write_text("".join(f"u{i:02d} {s}\n" for i, s in enumerate(SENTENCES * 3)))
    return SentencePieceTokenizer.train(d / "text", vocab_size=30, model_type="bpe")


def nemo_config(vocab: int, target: str = HYBRID) -> dict:
    """A model_config.yaml with NeMo's keys and ``_target_`` strings (tiny sizes)."""
    cfg = {
        "sample_rate": 16000, "target": target, "log_prediction": True,
        "tokenizer": {"dir": None, "type": "bpe", "model_path": "nemo:3f2a_tokenizer.model",
                      "vocab_path": "nemo:9c1d_vocab.txt", "spe_tokenizer_vocab": "nemo:77ab_tokenizer.vocab"},
        "preprocessor": {"_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
                         "sample_rate": 16000, "normalize": "NA", "window_size": 0.025, "window_stride": 0.01,
                         "window": "hann", "features": 80, "n_fft": 512, "frame_splicing": 1, "dither": 1e-05,
                         "pad_to": 0},
        "spec_augment": {"_target_": "nemo.collections.asr.modules.SpectrogramAugmentation", "freq_masks": 2,
                         "time_masks": 10, "freq_width": 27, "time_width": 0.05},
        "encoder": {"_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": 80, "feat_out": -1,
                    "n_layers": 2, "d_model": 32, "use_bias": True, "subsampling": "dw_striding",
                    "subsampling_factor": 8, "subsampling_conv_channels": 8, "causal_downsampling": True,
                    "ff_expansion_factor": 2, "self_attention_model": "rel_pos", "n_heads": 4,
                    "att_context_size": [[8, 3], [8, 1], [8, 0]], "att_context_style": "chunked_limited",
                    "att_context_probs": None, "xscaling": True, "untie_biases": True, "pos_emb_max_len": 5000,
                    "conv_kernel_size": 5, "conv_norm_type": "layer_norm", "conv_context_size": "causal",
                    "dropout": 0.1, "dropout_pre_encoder": 0.1, "dropout_emb": 0.0, "dropout_att": 0.1,
                    "stochastic_depth_drop_prob": 0.0},
        "decoder": {"_target_": "nemo.collections.asr.modules.RNNTDecoder", "normalization_mode": None,
                    "random_state_sampling": False, "blank_as_pad": True,
                    "prednet": {"pred_hidden": 16, "pred_rnn_layers": 1, "t_max": None, "dropout": 0.2},
                    "vocab_size": vocab},
        "joint": {"_target_": "nemo.collections.asr.modules.RNNTJoint", "log_softmax": None,
                  "fuse_loss_wer": True, "fused_batch_size": 4, "num_classes": vocab,
                  "jointnet": {"joint_hidden": 24, "activation": "relu", "dropout": 0.2,
                               "encoder_hidden": 32, "pred_hidden": 16}},
        "aux_ctc": {"ctc_loss_weight": 0.3, "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": 32, "num_classes": vocab}},
        "decoding": {"strategy": "greedy_batch", "greedy": {"max_symbols": 10}},
        "optim": {"name": "adamw", "lr": 5.0, "sched": {"name": "NoamAnnealing", "warmup_steps": 10000}},
    }
    if target == CTC:
        for key in ("joint", "aux_ctc", "decoding"):
            del cfg[key]
        cfg["decoder"] = {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": 32,
                          "num_classes": vocab, "vocabulary": []}
    return cfg


def audiokit_model(vocab: int, decoder_type: str = "hybrid", seed: int = 0) -> StreamingASR:
    torch.manual_seed(seed)
    enc = dict(d_model=32, n_layers=2, n_heads=4, ff_expansion=2, conv_kernel_size=5, subsampling_conv_channels=8,
               att_context_size=[[8, 3], [8, 1], [8, 0]], dropout=0.1, dropout_att=0.1, dropout_pre_encoder=0.1)
    model = StreamingASR(vocab, enc, decoder_type, pred_hidden=16, joint_hidden=24)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def nemo_state(model: StreamingASR) -> dict:
    """The model's weights under NeMo names (plus the preprocessor buffers NeMo saves)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if model.decoder_type == "ctc":
        state = {k.replace("ctc_decoder.", "decoder."): v for k, v in state.items()}
    state["preprocessor.featurizer.window"] = torch.hann_window(400, periodic=False)
    state["preprocessor.featurizer.fb"] = torch.rand(1, 80, 257)
    return state


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_nemo(path: Path, cfg: dict, state: dict, tok: SentencePieceTokenizer | None, mode: str = "w") -> Path:
    buf = io.BytesIO()
    torch.save(state, buf)
    with tarfile.open(path, mode) as tar:
        root = tarfile.TarInfo(".")
        root.type = tarfile.DIRTYPE
        tar.addfile(root)
        add_bytes(tar, "./model_config.yaml", yaml.safe_dump(cfg).encode())
        add_bytes(tar, "./model_weights.ckpt", buf.getvalue())
        if tok is not None:
            add_bytes(tar, "./3f2a_tokenizer.model", tok.model_proto)
            add_bytes(tar, "./9c1d_vocab.txt", "".join(t + "\n" for t in tok.nemo_vocab()).encode())
            add_bytes(tar, "./77ab_tokenizer.vocab", b"")
    return path


def waves() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return [torch.randn(n, generator=g) * 0.1 for n in (12000, 7001)]


def encode_all(model: StreamingASR) -> torch.Tensor:
    w = waves()
    batch = torch.zeros(len(w), max(len(x) for x in w))
    for b, x in enumerate(w):
        batch[b, : len(x)] = x
    with torch.no_grad():
        return model.encode(batch, torch.tensor([len(x) for x in w]))[0]


def test_hybrid_archive_gives_the_same_model(tmp_path, tokenizer):
    ref = audiokit_model(tokenizer.vocab_size)
    path = write_nemo(tmp_path / "m.nemo", nemo_config(tokenizer.vocab_size), nemo_state(ref), tokenizer)
    assert sniff(path)
    ckpt = read_nemo(path)
    assert ckpt.init_args["decoder_type"] == "hybrid" and ckpt.init_args["vocab_size"] == tokenizer.vocab_size
    model = ckpt.build(str(path))
    assert model.encoder.att_context_size == [8, 3]
    assert model.encoder.att_context_sizes == [[8, 3], [8, 1], [8, 0]]
    assert model.tokenizer.tokens == tokenizer.tokens
    assert (encode_all(model) - encode_all(ref)).abs().max().item() == 0.0
    assert model.transcribe_ids(waves()) == ref.transcribe_ids(waves())
    assert model.transcribe_ids(waves(), decoder="ctc") == ref.transcribe_ids(waves(), decoder="ctc")
    ref.set_tokenizer(tokenizer)
    assert model.transcribe(waves()) == ref.transcribe(waves())


def test_gzip_archive_and_pure_ctc_model(tmp_path, tokenizer):
    ref = audiokit_model(tokenizer.vocab_size, "ctc", seed=1)
    path = write_nemo(tmp_path / "c.nemo", nemo_config(tokenizer.vocab_size, CTC), nemo_state(ref), tokenizer,
                      mode="w:gz")
    model = read_nemo(path).build()
    assert model.decoder_type == "ctc" and model.joint is None
    assert model.transcribe_ids(waves()) == ref.transcribe_ids(waves())
    assert torch.equal(encode_all(model), encode_all(ref))


def test_shared_attention_biases_are_copied_to_every_layer(tmp_path, tokenizer):
    ref = audiokit_model(tokenizer.vocab_size, seed=2)
    with torch.no_grad():
        for layer in ref.encoder.layers:
            layer.self_attn.pos_bias_u.copy_(ref.encoder.layers[0].self_attn.pos_bias_u)
            layer.self_attn.pos_bias_v.copy_(ref.encoder.layers[0].self_attn.pos_bias_v)
    state = {k: v for k, v in nemo_state(ref).items() if ".pos_bias_" not in k}
    state["encoder.pos_bias_u"] = ref.encoder.layers[0].self_attn.pos_bias_u.clone()
    state["encoder.pos_bias_v"] = ref.encoder.layers[0].self_attn.pos_bias_v.clone()
    cfg = nemo_config(tokenizer.vocab_size)
    cfg["encoder"]["untie_biases"] = False
    model = read_nemo(write_nemo(tmp_path / "s.nemo", cfg, state, tokenizer)).build()
    assert torch.equal(encode_all(model), encode_all(ref))


def test_convert_to_audiokit_folder(tmp_path, tokenizer):
    ref = audiokit_model(tokenizer.vocab_size, seed=3)
    path = write_nemo(tmp_path / "m.nemo", nemo_config(tokenizer.vocab_size), nemo_state(ref), tokenizer)
    out = convert_nemo(path, tmp_path / "out")
    model = load_pretrained(out)
    assert torch.equal(encode_all(model), encode_all(ref))
    assert load_tokenizer(out).tokens == tokenizer.tokens
    with pytest.raises(AudiokitError):
        convert_nemo(path, tmp_path / "out")  # exists, no force


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "no_weights", "bad_weights", "bad_yaml"])
def test_corrupt_archives_give_one_line_errors(tmp_path, tokenizer, damage):
    ref = audiokit_model(tokenizer.vocab_size)
    good = write_nemo(tmp_path / "good.nemo", nemo_config(tokenizer.vocab_size), nemo_state(ref), tokenizer)
    bad = tmp_path / "bad.nemo"
    data = good.read_bytes()
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        bad.write_bytes(b"\x00garbage" * 100)
    elif damage == "empty":
        bad.write_bytes(b"")
    else:
        with tarfile.open(bad, "w") as tar:
            cfg = yaml.safe_dump(nemo_config(tokenizer.vocab_size)).encode()
            add_bytes(tar, "model_config.yaml", b"a: [unclosed" if damage == "bad_yaml" else cfg)
            add_bytes(tar, "3f2a_tokenizer.model", tokenizer.model_proto)
            if damage == "bad_weights":
                add_bytes(tar, "model_weights.ckpt", b"PK\x03\x04 not a checkpoint")
            elif damage == "bad_yaml":
                add_bytes(tar, "model_weights.ckpt", b"")
    with pytest.raises(CheckpointError) as info:
        read_nemo(bad)
    assert str(bad) in one_line(info.value)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_members_escaping_the_folder_are_refused(tmp_path, kind):
    path = tmp_path / "evil.nemo"
    with tarfile.open(path, "w") as tar:
        add_bytes(tar, "model_config.yaml", b"a: 1\n")
        if kind == "dotdot":
            add_bytes(tar, "../escaped.txt", b"x")
        elif kind == "absolute":
            add_bytes(tar, str(tmp_path / "abs_escaped.txt"), b"x")
        else:
            info = tarfile.TarInfo("link")
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "device": tarfile.CHRTYPE}[kind]
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(CheckpointError, match="refused") as info:
        safe_extract(path, dest)
    one_line(info.value)
    assert not any(dest.iterdir())  # checked before anything is written
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "abs_escaped.txt").exists()
    with pytest.raises(CheckpointError, match="refused"):
        read_nemo(path)


def test_size_and_count_limits(tmp_path):
    path = tmp_path / "big.nemo"
    with tarfile.open(path, "w") as tar:
        for i in range(3):
            add_bytes(tar, f"f{i}.bin", b"x" * 1000)
    with pytest.raises(CheckpointError, match="limit 999"):
        safe_extract(path, tmp_path / "a", max_member_bytes=999)
    with pytest.raises(CheckpointError, match="in total"):
        safe_extract(path, tmp_path / "b", max_total_bytes=2500)
    with pytest.raises(CheckpointError, match="members"):
        safe_extract(path, tmp_path / "c", max_members=2)
    assert sorted(safe_extract(path, tmp_path / "d")) == ["f0.bin", "f1.bin", "f2.bin"]


def test_unsupported_models_and_settings_are_refused(tmp_path, tokenizer):
    ref = audiokit_model(tokenizer.vocab_size)
    cases = [("target", "nemo.collections.asr.models.label_models.EncDecSpeakerLabelModel", "not a Conformer"),
             ("subsampling", "striding", "subsampling"), ("conv_norm_type", "groupnorm4", "conv_norm_type")]
    for key, value, message in cases:
        cfg = copy.deepcopy(nemo_config(tokenizer.vocab_size))
        (cfg if key == "target" else cfg["encoder"])[key] = value
        path = write_nemo(tmp_path / f"{key}.nemo", cfg, nemo_state(ref), tokenizer)
        with pytest.raises(AudiokitError, match=message) as info:
            read_nemo(path).build()
        one_line(info.value)
    with pytest.raises(CheckpointError, match="model_config.yaml"):
        from_state(nemo_state(ref), where="model_weights.ckpt")
    state = nemo_state(ref)
    state["encoder.extra_layer.weight"] = torch.zeros(1)
    path = write_nemo(tmp_path / "extra.nemo", nemo_config(tokenizer.vocab_size), state, tokenizer)
    with pytest.raises(CheckpointError, match="extra_layer"):
        read_nemo(path).build(str(path))
    state = nemo_state(ref)
    state["unknown_module.weight"] = torch.zeros(1)
    path = write_nemo(tmp_path / "unknown.nemo", nemo_config(tokenizer.vocab_size), state, tokenizer)
    with pytest.raises(CheckpointError, match="unknown_module"):
        read_nemo(path)
