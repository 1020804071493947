"""F5-TTS bundle: loading folders/official files + vocoders, input checks, chunking, synthesis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from audiokit.checkpoint import save_pretrained
from audiokit.decoding.flow import estimate_duration
from audiokit.errors import AudioError, AudiokitError, CheckpointError
from audiokit.models.tts import F5TTS, VocosVocoder
from audiokit.models.tts import bundle as B

SR, HOP = 24000, 256
TOKENS = [" ", *"abcdefghijklmnopqrstuvwxyz", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ", *".,'!?-:\""]
MODEL_ARGS = dict(dim=32, depth=2, heads=2, ff_mult=2, mel_dim=100, vocab_size=len(TOKENS), text_dim=16,
                  conv_layers=1, dropout=0.0)
VOC_ARGS = dict(n_mels=100, dim=32, intermediate_dim=64, num_layers=1, n_fft=1024, hop_length=HOP,
                padding="center", sample_rate=SR)
VOCOS_CONFIG = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                          "init_args": {"sample_rate": SR, "n_fft": 1024, "hop_length": HOP, "n_mels": 100,
                                        "padding": "center"}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 100, "dim": 32, "intermediate_dim": 64, "num_layers": 1}},
    "head": {"class_path": "vocos.heads.ISTFTHead",
             "init_args": {"dim": 32, "n_fft": 1024, "hop_length": HOP, "padding": "center"}},
}


def _perturb(module: torch.nn.Module, seed: int, scale: float) -> None:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))


def tiny_model(seed: int = 0) -> F5TTS:
    torch.manual_seed(seed)
    model = F5TTS(**MODEL_ARGS)
    _perturb(model, seed, 0.1)
    return model.eval()


def tiny_vocoder(seed: int = 1) -> VocosVocoder:
    torch.manual_seed(seed)
    voc = VocosVocoder(**VOC_ARGS)
    _perturb(voc, seed, 0.02)
    with torch.no_grad():
        voc.head.out.bias[: 1024 // 2 + 1] = -6.0  # quiet: |STFT| = exp(-6)
    return voc.eval()


def write_official_vocoder(folder: Path, voc: VocosVocoder | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(VOCOS_CONFIG), encoding="utf-8")
    torch.save((voc or tiny_vocoder()).state_dict(), folder / "pytorch_model.bin")
    return folder


def write_vocab(path: Path, tokens: list[str] = TOKENS) -> Path:
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


def tiny_tts_folder(root: Path, name: str = "f5") -> Path:
    """An audiokit F5-TTS folder (tiny random model, vocab.txt, released-layout vocoder/)."""
    vocab = write_vocab(root / f"{name}_vocab.txt")
    staged = root / f"{name}_staging"
    staged.mkdir(exist_ok=True)
    (staged / "vocab.txt").write_bytes(vocab.read_bytes())
    cfg = {"model": {"class_path": B.F5TTS_CLASS, "init_args": MODEL_ARGS}, "sample_rate": SR,
           "tokenizer": "vocab.txt"}
    folder = save_pretrained(tiny_model(), cfg, root / name, extra_files=[staged / "vocab.txt"])
    write_official_vocoder(folder / "vocoder")
    return folder


def speech_like(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tiny_tts_folder(tmp_path_factory.mktemp("bundle"))


# --------------------------------------------------------------------------- loading
def test_load_folder_with_vocoder_subfolder(folder):
    b = B.load_f5_bundle(folder)
    assert b.sample_rate == SR and len(b.vocab) == len(TOKENS)
    assert isinstance(b.vocoder, VocosVocoder) and not b.model.training
    ref = {k: v for k, v in tiny_model().state_dict().items()}
    assert all(torch.equal(v, ref[k]) for k, v in b.model.state_dict().items())


def write_official_model(path: Path) -> Path:
    """``tiny_model()`` saved as a released ``model_*.safetensors`` (EMA prefix, released key names)."""
    from safetensors.torch import save_file

    state = {f"ema_model.{k}": v for k, v in tiny_model().state_dict().items()}
    for k in list(state):  # back to the released key names
        state[k.replace(".attn.linear_out.", ".attn.to_out.0.").replace(".ff.0.", ".ff.ff.0.0.")
              .replace(".ff.3.", ".ff.ff.2.").replace(".attn.linear_", ".attn.to_")] = state.pop(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def write_tiny_config(path: Path) -> Path:
    path.write_text(yaml.safe_dump({"model": {"class_path": B.F5TTS_CLASS, "init_args": MODEL_ARGS}}))
    return path


def test_load_official_file_and_audiokit_vocoder(folder, tmp_path):
    write_official_model(tmp_path / "model_1.safetensors")
    cfg_path = write_tiny_config(tmp_path / "tiny.yaml")
    voc_dir = save_pretrained(tiny_vocoder(), {"model": {"class_path": B.VOCODER_CLASS, "init_args": VOC_ARGS}},
                              tmp_path / "voc")
    with pytest.raises(CheckpointError, match="vocab.txt: no such file"):
        B.load_f5_bundle(tmp_path / "model_1.safetensors", vocoder=voc_dir, config=cfg_path)
    write_vocab(tmp_path / "vocab.txt")
    with pytest.raises(CheckpointError, match="no vocoder: pass --vocoder"):
        B.load_f5_bundle(tmp_path / "model_1.safetensors", config=cfg_path)
    b = B.load_f5_bundle(tmp_path / "model_1.safetensors", vocoder=voc_dir, config=cfg_path)
    ours = B.load_f5_bundle(folder)
    assert all(torch.equal(v, ours.model.state_dict()[k]) for k, v in b.model.state_dict().items())


def test_release_names_resolve_to_the_cache_folder(folder, tmp_path, monkeypatch):
    import audiokit.convert.f5tts as convert_f5

    for filename, config, _ in B.F5_RELEASES.values():  # the real releases have their configs
        assert filename.endswith(".safetensors") and (convert_f5.CONFIG_DIR / config).is_file()
    monkeypatch.setenv("AUDIOKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(B, "F5_RELEASES", {"tiny-release": ("model_9.safetensors", "tiny.yaml", "Tiny")})
    monkeypatch.setattr(convert_f5, "CONFIG_DIR", tmp_path)
    write_tiny_config(tmp_path / "tiny.yaml")
    cache = tmp_path / "home" / "tiny-release"
    with pytest.raises(CheckpointError, match="model_9.safetensors missing.*does not download"):
        B.load_f5_bundle("tiny-release")
    write_official_model(cache / "model_9.safetensors")
    write_vocab(cache / "vocab.txt")
    with pytest.raises(CheckpointError, match="config.yaml missing.*vocos-mel-24khz"):
        B.load_f5_bundle("tiny-release")
    write_official_vocoder(cache / "vocoder")
    b = B.load_f5_bundle("tiny-release")
    ours = B.load_f5_bundle(folder)
    assert all(torch.equal(v, ours.model.state_dict()[k]) for k, v in b.model.state_dict().items())
    assert b.source == cache / "model_9.safetensors"


def test_load_errors(folder, tmp_path):
    with pytest.raises(CheckpointError, match="no such model folder or checkpoint file"):
        B.load_f5_bundle(tmp_path / "missing")
    short = write_vocab(tmp_path / "short.txt", TOKENS[:-1])
    with pytest.raises(CheckpointError, match=f"{len(TOKENS) - 1} tokens"):
        B.load_f5_bundle(folder, vocab=short)
    with pytest.raises(CheckpointError, match="vocab.txt: no such file"):
        B.load_f5_bundle(folder, vocab=tmp_path / "vocab.txt")
    with pytest.raises(CheckpointError, match="no such vocoder folder"):
        B.load_f5_bundle(folder, vocoder=tmp_path / "novoc")
    other = VocosVocoder(**{**VOC_ARGS, "hop_length": 240, "n_fft": 960})
    with pytest.raises(CheckpointError, match="hop length 240 does not match the model's 256"):
        B.check_compatible(tiny_model(), other, "v")


# --------------------------------------------------------------------------- input checks
def test_check_text(folder):
    vocab = B.load_f5_bundle(folder).vocab
    assert B.check_text(vocab, "  Hello,\n world! ", "--text") == "Hello, world!"
    with pytest.raises(AudiokitError, match="--text: empty text"):
        B.check_text(vocab, " \n\t", "--text")
    with pytest.raises(AudiokitError) as err:
        B.check_text(vocab, "caf\u00e9 5 caf\u00e9", "x.txt:3")
    msg = str(err.value)
    assert msg.startswith("x.txt:3: 2 character(s)") and "U+00E9" in msg and "'5'" in msg and "--on-unknown" in msg
    assert B.check_text(vocab, "caf\u00e9", "t", on_unknown="space") == "caf\u00e9"


def test_load_reference(tmp_path):
    path = tmp_path / "r16.wav"
    sf.write(path, speech_like(1.0, 16000), 16000)
    wav = B.load_reference(path, SR)
    assert wav.dtype == torch.float32 and wav.shape == (SR,)
    stereo = tmp_path / "st.wav"
    sf.write(stereo, np.stack([speech_like(1.0), speech_like(1.0)], 1), SR)
    assert B.load_reference(stereo, SR).shape == (SR,)
    cases = {"silent": (np.zeros(SR, np.float32), "silent (peak -inf dBFS"),
             "quiet": (np.full(SR, 1e-4, np.float32), "silent (peak -80 dBFS"),
             "short": (speech_like(0.2), "0.20 s long; at least 0.5 s"),
             "long": (speech_like(31.0), "31.0 s long; at most 30 s")}
    for name, (data, needle) in cases.items():
        sf.write(tmp_path / f"{name}.wav", data, SR, subtype="FLOAT")
        with pytest.raises(AudioError, match=needle.replace("(", r"\(")):
            B.load_reference(tmp_path / f"{name}.wav", SR)
    with pytest.raises(AudioError, match="nope.wav"):
        B.load_reference(tmp_path / "nope.wav", SR)


def test_reference_text():
    assert B.reference_text(" Hello  there ") == "Hello there. "
    assert B.reference_text("Done.") == "Done. "
    assert B.reference_text("\u4f60\u597d\u3002") == "\u4f60\u597d\u3002"
    with pytest.raises(AudiokitError, match="--ref-text"):
        B.reference_text("  ")


# --------------------------------------------------------------------------- chunking
def test_chunk_text():
    text = "One two three. Four five, six seven! Eight nine ten? Eleven."
    assert B.chunk_text(text, 1000) == [text]
    chunks = B.chunk_text(text, 20)
    assert " ".join(chunks) == text
    assert chunks == ["One two three.", "Four five,", "six seven!", "Eight nine ten?", "Eleven."]
    assert B.chunk_text("averyveryverylongword", 4) == ["averyveryverylongword"]
    assert B.chunk_budget(2.0, "ab" * 10, 1.0) == int(20 / 2.0 * 20.0)
    assert B.chunk_budget(25.0, "a" * 250, 1.0) == 50  # at least MIN_CHUNK_SECONDS of text


def test_crossfade_concat():
    a, b = torch.ones(10), torch.zeros(6)
    out = B.crossfade_concat([a, b], 4)
    assert out.shape == (12,)
    assert torch.allclose(out[6:10], torch.tensor([1, 2 / 3, 1 / 3, 0]))
    assert torch.equal(B.crossfade_concat([a], 4), a)


# --------------------------------------------------------------------------- synthesis
def test_synthesize_duration_seed_and_progress(folder):
    b = B.load_f5_bundle(folder)
    ref = torch.from_numpy(speech_like(1.0))
    ref_text = B.reference_text("hello there")
    text = "abc def ghi"
    calls = []
    wav = B.synthesize(b, text, ref, ref_text, nfe=4, seed=3, progress=lambda: calls.append(1))
    ref_frames = SR // HOP
    total = estimate_duration(ref_frames, ref_text + " ", text, 1.0)
    assert wav.shape == ((total - ref_frames - 1) * HOP,)
    assert len(calls) == 4 == B.steps_per_text(b, text, 1.0, ref_text, 1.0, 4)
    assert torch.equal(wav, B.synthesize(b, text, ref, ref_text, nfe=4, seed=3))
    assert not torch.equal(wav, B.synthesize(b, text, ref, ref_text, nfe=4, seed=4))
    fast = B.synthesize(b, text, ref, ref_text, nfe=2, seed=3, speed=2.0)
    assert fast.shape == ((estimate_duration(ref_frames, ref_text + " ", text, 2.0) - ref_frames - 1) * HOP,)
    assert not b.model.transformer._forward_hooks  # progress hook removed


def test_long_text_is_chunked(folder, monkeypatch):
    b = B.load_f5_bundle(folder)
    monkeypatch.setattr(B, "CHUNK_BUDGET_SECONDS", 1.0)
    monkeypatch.setattr(B, "MIN_CHUNK_SECONDS", 1.0)
    ref = torch.from_numpy(speech_like(0.5))
    ref_text = B.reference_text("hello")
    text = "abc def ghi jkl. mno pqr stu vwx."
    assert len(B.chunk_text(text, B.chunk_budget(0.5, ref_text, 1.0))) == 2
    calls = []
    wav = B.synthesize(b, text, ref, ref_text, nfe=2, seed=0, progress=lambda: calls.append(1))
    assert len(calls) == 4 and wav.ndim == 1 and torch.isfinite(wav).all()
