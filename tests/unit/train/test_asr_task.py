"""ASR training task and data module: hybrid losses train both heads, multi-latency sampling,
SpecAugment, data errors, an end-to-end ``audiokit train`` run with the debug config + export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.checkpoint import load_pretrained
from audiokit.config import load_config
from audiokit.errors import DataDirError
from audiokit.models.asr import StreamingASR
from audiokit.text import CharTokenizer, TokenizerError, load_tokenizer
from audiokit.train.asr import ASRTask, export_asr, spec_augment, word_errors
from audiokit.train.asr_data import ASRDataModule, ASRDataset

ROOT = Path(__file__).resolve().parents[3]
DEBUG = ROOT / "configs" / "asr" / "fastconformer_debug.yaml"
ENC = dict(d_model=32, n_layers=2, n_heads=4, ff_expansion=2, conv_kernel_size=5, subsampling_conv_channels=8,
           att_context_size=[[8, 3], [8, 1], [8, 0]])
TEXTS = ["ab ba", "cab", "a bc", "cc ab", "ba", "abc cab", "b a c", "acb"]


def make_data(root: Path, name: str, texts: list[str], seed: int = 0) -> Path:
    d = root / name
    (d / "wav").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    scp, text, u2s = [], [], []
    for i, t in enumerate(texts):
        utt = f"s{i % 2}-{name}{i:02d}"
        n = int(16000 * rng.uniform(0.6, 1.0))
        wav = 0.3 * np.sin(np.arange(n) * rng.uniform(0.05, 0.3)) + 0.02 * rng.standard_normal(n)
        sf.write(d / "wav" / f"{utt}.wav", wav.astype(np.float32), 16000)
        scp.append(f"{utt} {d / 'wav' / (utt + '.wav')}\n")
        text.append(f"{utt} {t}\n")
        u2s.append(f"{utt} s{i % 2}\n")
    for fname, lines in (("wav.scp", scp), ("text", text), ("utt2spk", u2s)):
        (d / fname).write_text("".join(sorted(lines)))
    return d


@pytest.fixture()
def data(tmp_path) -> Path:
    make_data(tmp_path, "train", TEXTS)
    make_data(tmp_path, "dev", TEXTS[:4], seed=1)
    CharTokenizer(list(" abc")).save(tmp_path / "lang")
    return tmp_path


def test_hybrid_task_trains_both_heads():
    torch.manual_seed(0)
    task = ASRTask(StreamingASR(5, ENC, pred_hidden=16, joint_hidden=16, pred_dropout=0.0, joint_dropout=0.0),
                   spec_augment=None)
    wav = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 0.2
    batch = {"ids": ["a", "b"], "wav": wav, "wav_lens": torch.tensor([16000, 12000]),
             "tokens": torch.tensor([[1, 2, 3, 4], [0, 3, 0, 0]]), "token_lens": torch.tensor([4, 2])}
    opt = torch.optim.Adam(task.parameters(), lr=3e-3)
    task.train()
    seen, history = set(), []
    for _ in range(25):
        ctx = task.model.encoder.sample_att_context_size()
        seen.add(tuple(ctx))
        out, _, _ = task.losses(batch, ctx)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in out.items()})
    assert len(seen) > 1  # multi-latency: contexts are drawn per batch
    assert history[-1]["ctc_loss"] < 0.7 * history[0]["ctc_loss"]
    assert history[-1]["rnnt_loss"] < 0.7 * history[0]["rnnt_loss"]
    assert history[0]["loss"] == pytest.approx(0.7 * history[0]["rnnt_loss"] + 0.3 * history[0]["ctc_loss"])


def test_spec_augment_and_word_errors():
    torch.manual_seed(0)
    feats = torch.randn(2, 50, 20) + 5.0
    out = spec_augment(feats, torch.tensor([50, 20]), freq_masks=2, freq_width=5, time_masks=3, time_width=0.1)
    assert out.shape == feats.shape and (out == 0).any() and (out != 0).any()
    assert torch.equal(feats[feats != 0], feats[feats != 0])  # input untouched
    assert (out[1, 20:] == 0).sum() <= (out[1] == 0).sum()
    assert spec_augment(feats, torch.tensor([0, 0])).shape == feats.shape
    assert word_errors(["a b c", "x y"], ["a c", "x y z"]) == (2, 5)


def test_data_errors_name_the_file(tmp_path):
    tok = CharTokenizer(list(" abc"))
    bad = make_data(tmp_path, "bad", ["ab", "zz top"])
    with pytest.raises(TokenizerError, match=r"bad/text:2"):
        ASRDataset([str(bad)], tok, sample_rate=16000)
    missing = make_data(tmp_path, "missing", ["ab", "ba"])
    lines = (missing / "text").read_text().splitlines()
    (missing / "text").write_text(lines[0] + "\n")
    with pytest.raises(DataDirError, match="no transcript"):
        ASRDataset([str(missing)], tok, sample_rate=16000)
    ok = str(make_data(tmp_path, "ok", ["ab", "ba", "cab", "a", "b", "c"]))
    durations = ASRDataset([ok], tok, sample_rate=16000).lengths
    limit = sorted(durations)[2]
    short = ASRDataset([ok], tok, sample_rate=16000, max_duration=limit)
    assert (len(short), short.skipped) == (3, 3) and max(short.lengths) <= limit
    with pytest.raises(DataDirError, match="duration limits"):
        ASRDataset([ok], tok, sample_rate=16000, max_duration=0.1)


def test_speed_perturbation_and_gain(tmp_path):
    """Speed perturbation resamples (length ~T/f, a tone's pitch x f); gain scales; off by default,
    never on validation; bad factors are config errors."""
    from audiokit.errors import ConfigError
    from audiokit.train.asr_data import speed_perturb

    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * torch.pi * 500 * t)
    fast = speed_perturb(tone, 1.1, 16000)
    assert abs(len(fast) - 16000 / 1.1) <= 1
    peak_hz = torch.fft.rfft(fast).abs().argmax().item() * 16000 / len(fast)
    assert abs(peak_hz - 550) < 5
    assert speed_perturb(tone, 1.0, 16000) is tone

    tok = CharTokenizer(list(" abc"))
    d = str(make_data(tmp_path, "tr", TEXTS))
    plain = ASRDataset([d], tok, sample_rate=16000)
    aug = ASRDataset([d], tok, sample_rate=16000, speed_perturb=[0.9, 1.1], gain_db=6.0)
    torch.manual_seed(0)
    lengths = {len(aug[0]["wav"]) for _ in range(12)}
    n = len(plain[0]["wav"])
    assert lengths <= {round(n / 0.9), round(n / 1.1), round(n / 0.9) + 1, round(n / 1.1) + 1} and len(lengths) >= 2
    source = plain.sources[0][0]["wav"]
    assert torch.equal(plain[0]["wav"], source)  # no augmentation by default
    louder = ASRDataset([d], tok, sample_rate=16000, gain_db=6.0)
    peak = int(source.abs().argmax())
    gains = {round(float(louder[0]["wav"][peak] / source[peak]), 6) for _ in range(6)}
    assert len(gains) == 6 and all(10 ** (-6 / 20) <= g <= 10 ** (6 / 20) for g in gains)
    scaled = louder[0]["wav"]
    assert torch.allclose(scaled, source * (scaled[peak] / source[peak]), atol=1e-6)  # one gain per item
    with pytest.raises(ConfigError, match="speed_perturb factor 3.0"):
        ASRDataset([d], tok, sample_rate=16000, speed_perturb=[3.0])
    dm = ASRDataModule([d], [d], tokenizer=str(tmp_path / "lang"), sample_rate=16000, batch_size=2,
                       speed_perturb=[0.9, 1.1])
    CharTokenizer(list(" abc")).save(tmp_path / "lang")
    dm.setup("fit")
    assert dm.train_set.speeds == [0.9, 1.1] and dm.val_set.speeds == []


def test_debug_config_trains_exports_and_transcribes(data, monkeypatch):
    from audiokit.train.runner import train

    monkeypatch.chdir(data)
    cfg = load_config(DEBUG, ["data.tokenizer=lang", "data.train_dirs=[train]", "data.val_dirs=[dev]",
                              "task.model.init_args.vocab_size=4", "exp_dir=exp", "trainer.max_steps=4",
                              "trainer.val_check_interval=2", "checkpoint.every_n_train_steps=2"])
    trainer = train(cfg, resume=None)
    metrics = trainer.callback_metrics
    assert "val_wer" in metrics and "val_wer_ctc" in metrics and torch.isfinite(metrics["val_loss"])
    assert (data / "exp" / "checkpoints" / "last.ckpt").is_file()
    out = export_asr(data / "exp" / "checkpoints" / "last.ckpt", data / "exp" / "config.yaml", data / "lang",
                     data / "model")
    model = load_pretrained(out)
    model.set_tokenizer(load_tokenizer(out))
    wav, _ = sf.read(sorted((data / "dev" / "wav").iterdir())[0], dtype="float32")
    texts = model.transcribe([wav])
    assert len(texts) == 1 and set(texts[0]) <= set(" abc")
    state = model.init_state(1)
    streamed, _ = model.step(torch.from_numpy(wav)[None], state, final=True)
    assert streamed == texts
    dm = ASRDataModule(["train"], ["dev"], tokenizer="lang", batch_size=3)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["wav"].shape[0] == batch["tokens"].shape[0] <= 3 and batch["token_lens"].max() > 0


def test_vocabulary_mismatch_is_a_one_line_cli_error(data):
    proc = subprocess.run(
        [sys.executable, "-m", "audiokit", "train", "--config", str(DEBUG), "data.tokenizer=lang",
         "data.train_dirs=[train]", "data.val_dirs=[dev]", "exp_dir=exp", "task.model.init_args.vocab_size=9"],
        check=False, cwd=data, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.startswith("audiokit")]
    assert "Traceback" not in proc.stderr
    assert len(err) == 1 and "vocab_size=4" in err[0]
    assert not (data / "exp" / "checkpoints" / "last.ckpt").exists()
