"""F5TTSTask and TTSDataModule: batches, the loss goes down, exact resume (weights, EMA,
optimiser, schedule), EMA rule, export of the trained (EMA) model, vocabulary checks, configs.

Everything runs the tiny configs/tts/train_f5tts_debug.yaml model on synthetic audio written
to Kaldi data dirs in a tmp folder.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.config import load_config
from audiokit.data.kaldi import DataDir
from audiokit.errors import CheckpointError, ConfigError, DataDirError
from audiokit.train.runner import resolve_config, train
from audiokit.train.tts import F5TTSTask, build_tts, export_tts, linear_warmup_decay, tts_from_checkpoint
from audiokit.train.tts_data import TTSDataModule, build_vocab, collate_tts, read_vocab

ROOT = Path(__file__).resolve().parents[3]
DEBUG = ROOT / "configs" / "tts" / "train_f5tts_debug.yaml"
WORDS = "the cat sat on a mat and we saw it run far away".split()


def _write_dir(root: Path, name: str, n: int, sr: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    dd = DataDir()
    for i in range(n):
        t = np.arange(int(sr * rng.uniform(0.4, 1.0))) / sr
        wav = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.05 * rng.standard_normal(len(t))
        utt = f"{name}-{i:02d}"
        path = root / "wav" / f"{utt}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav.astype(np.float32), sr)
        dd.wav_scp[utt], dd.utt2spk[utt] = str(path), name
        dd.text[utt] = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 6))))
    dd.save(root / name)
    return root / name


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest (and most robustly on a shared machine) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ttsdata")
    _write_dir(root, "train", 10, 16000, 0)
    _write_dir(root, "dev", 3, 24000, 1)
    texts = list(DataDir.load(root / "train").text.values())
    (root / "vocab.txt").write_text("".join(t + "\n" for t in build_vocab(texts)), encoding="utf-8")
    return root


def _config(data: Path, exp: Path, **trainer) -> dict:
    cfg = load_config(DEBUG, [f"exp_dir={exp}", f"data.train_dirs=[{data / 'train'}]",
                              f"data.val_dirs=[{data / 'dev'}]", f"data.vocab={data / 'vocab.txt'}",
                              "loggers=[]", "trainer.enable_progress_bar=false", "task.decay_steps=20"])
    cfg["trainer"].update(trainer)
    return cfg


# --------------------------------------------------------------------------- data
def test_vocab_build_and_read(data, tmp_path):
    vocab = read_vocab(data / "vocab.txt")
    assert vocab.tokens[0] == " " and "t" in vocab.tokens and len(vocab) == len(set(vocab.tokens))
    assert build_vocab(["ab a", "b!"]) == [" ", "!", "a", "b"]
    bad = tmp_path / "v.txt"
    bad.write_text("a\nb\n")
    with pytest.raises(ConfigError, match="v.txt:1"):
        read_vocab(bad)
    with pytest.raises(ConfigError, match="not found"):
        read_vocab(tmp_path / "missing.txt")


def test_data_module_batches(data):
    dm = TTSDataModule([str(data / "train")], [str(data / "dev")], vocab=str(data / "vocab.txt"),
                       max_total=400, num_buckets=2)
    dm.setup("fit")
    assert len(dm.train_set) == 10 and dm.train_set.unknown == []
    batches = list(dm.train_dataloader())
    assert sum(len(b["ids"]) for b in batches) == 10
    for b in batches:
        assert b["mel"].shape[0] == len(b["ids"]) and b["mel"].shape[2] == 100
        assert int(b["mel_lens"].max()) == b["mel"].shape[1]
        assert int(b["mel_lens"].sum()) <= 400 or len(b["ids"]) == 1
        assert b["text"].dtype == torch.long and (b["text"] >= -1).all()
    item = dm.train_set[0]
    assert item["mel"].shape[0] == dm.train_set.lengths[0]  # frame count used for batching is exact
    assert item["mel"].min() >= np.log(1e-5) - 1e-4  # F5 log floor
    vocab = dm.load_vocab()
    assert item["tokens"] == vocab.encode(item["text"])
    val = next(iter(dm.val_dataloader()))
    assert len(val["ids"]) == 3


def test_collate_pads_text_with_minus_one():
    items = [{"id": "a", "mel": torch.ones(3, 4), "tokens": [1, 2], "text": "x"},
             {"id": "b", "mel": torch.ones(5, 4), "tokens": [3, 4, 5], "text": "y"}]
    b = collate_tts(items)
    assert b["mel"].shape == (2, 5, 4) and b["mel"][0, 3:].abs().sum() == 0
    assert b["text"].tolist() == [[1, 2, -1], [3, 4, 5]]


def test_missing_transcripts_are_reported(data, tmp_path):
    dd = DataDir.load(data / "train")
    dd.text = {k: v for i, (k, v) in enumerate(dd.text.items()) if i}
    dd.save(tmp_path / "partial")
    dm = TTSDataModule([str(tmp_path / "partial")], vocab=str(data / "vocab.txt"))
    with pytest.raises(DataDirError, match="no transcript"):
        dm.setup("fit")


# --------------------------------------------------------------------------- task
def test_a_few_steps_reduce_the_loss(data):
    pl.seed_everything(0, verbose=False)
    model, _ = build_tts(DEBUG)
    task = F5TTSTask(model.train(), lr=3e-3, warmup_steps=0, ema_decay=None)
    dm = TTSDataModule([str(data / "train")], vocab=str(data / "vocab.txt"), max_total=10_000, num_buckets=1)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    opt = torch.optim.AdamW(task.model.parameters(), lr=3e-3)

    def fixed_loss() -> float:  # same noise, span and dropout every time
        gen = torch.Generator().manual_seed(1)
        with torch.no_grad():
            return float(task.model.loss(batch["mel"], batch["text"], batch["mel_lens"], generator=gen)[0])

    before = fixed_loss()
    for _ in range(30):
        loss = task.model.loss(batch["mel"], batch["text"], batch["mel_lens"])[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert fixed_loss() < 0.7 * before


def test_lr_schedule():
    assert linear_warmup_decay(0, 10, 100) == pytest.approx(1e-8)
    assert linear_warmup_decay(5, 10, 100) == pytest.approx(0.5, abs=1e-6)
    assert linear_warmup_decay(10, 10, 100) == 1.0
    assert linear_warmup_decay(55, 10, 100) == pytest.approx(0.5, abs=1e-6)
    assert linear_warmup_decay(100, 10, 100) == pytest.approx(1e-8)
    assert linear_warmup_decay(50, 0, None) == 1.0


def test_ema_rule():
    model, _ = build_tts(DEBUG, seed=0)
    task = F5TTSTask(model, ema_decay=0.5, ema_start=1, ema_every=2)
    p, e = next(task.model.parameters()), next(task.ema_model.parameters())
    assert not e.requires_grad and torch.equal(p, e)
    with torch.no_grad():
        p.add_(1.0)
    task.update_ema(1)  # still copying
    assert torch.equal(p, e)
    old = e.clone()
    with torch.no_grad():
        p.add_(2.0)
    task.update_ema(3)  # not an update step
    assert torch.equal(e, old)
    task.update_ema(4)
    assert torch.allclose(e, old + 1.0)


def test_text_gain_is_zero_for_a_model_that_ignores_the_text(data):
    dm = TTSDataModule([str(data / "train")], vocab=str(data / "vocab.txt"), max_total=10_000, num_buckets=1)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    model, _ = build_tts(DEBUG, seed=0)
    model.eval()
    with torch.no_grad():  # the fresh model's output layers are zero (AdaLN-zero): make every path count
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    reads = F5TTSTask.text_gain(model, batch, seed=3)
    assert reads.abs() > 1e-4 and torch.equal(reads, F5TTSTask.text_gain(model, batch, seed=3))
    table = model.transformer.text_embed.text_embed.weight
    with torch.no_grad():
        table.copy_(table[:1].expand_as(table))  # every character embeds as the filler: text carries nothing
    assert F5TTSTask.text_gain(model, batch, seed=3).abs() < 1e-6


def test_bad_task_settings():
    model, _ = build_tts(DEBUG)
    with pytest.raises(ConfigError, match="ema_decay"):
        F5TTSTask(model, ema_decay=1.5)
    with pytest.raises(ConfigError, match="F5TTS"):
        F5TTSTask(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_vocabulary_larger_than_the_model_is_refused(data, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(" \n" + "".join(chr(0x100 + i) + "\n" for i in range(80)), encoding="utf-8")
    cfg = _config(data, tmp_path / "exp", max_steps=1)
    cfg["data"]["init_args"]["vocab"] = str(big)
    with pytest.raises(ConfigError, match="vocab_size"):
        train(cfg)


def test_data_mel_must_be_the_model_mel(data, tmp_path):
    cfg = _config(data, tmp_path / "exp", max_steps=1)
    cfg["data"]["init_args"]["hop_length"] = 512  # the debug model's hop is 256
    with pytest.raises(ConfigError, match="data.init_args.hop_length is 512 but task.model.init_args.hop_length"):
        train(cfg)
    assert not list((tmp_path / "exp").rglob("*.ckpt"))


# --------------------------------------------------------------------------- resume
STEPS = 6


def _state(trainer: pl.Trainer) -> dict:
    return {k: v.detach().clone() for k, v in trainer.lightning_module.state_dict().items()}


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    exp = tmp_path_factory.mktemp("straight")
    trainer = train(_config(data, exp, max_steps=STEPS))
    return trainer, _state(trainer), exp


def test_resume_is_exact(data, tmp_path, straight):
    ref_trainer, ref, _ = straight
    exp = tmp_path / "exp"
    first = train(_config(data, exp, max_steps=3))  # ends inside the first epoch
    assert first.global_step == 3
    second = train(_config(data, exp, max_steps=STEPS))  # auto-resume from last.ckpt
    assert second.global_step == ref_trainer.global_step == STEPS
    state = _state(second)
    assert state.keys() == ref.keys() and any(k.startswith("ema_model.") for k in ref)
    for key in ref:
        assert torch.equal(state[key], ref[key]), key
    a, b = ref_trainer.optimizers[0].state_dict(), second.optimizers[0].state_dict()
    for pid, st in a["state"].items():
        assert torch.equal(st["exp_avg"], b["state"][pid]["exp_avg"])
    assert ([s.scheduler.get_last_lr() for s in second.lr_scheduler_configs]
            == [s.scheduler.get_last_lr() for s in ref_trainer.lr_scheduler_configs])


def test_training_moved_the_weights_and_the_ema(straight):
    trainer, ref, exp = straight
    logged = trainer.callback_metrics
    for key in ("val_loss", "val_loss_ema", "val_text_gain", "val_text_gain_ema"):
        assert torch.isfinite(logged[key]), key
    init, _ = build_tts(exp / "config.yaml", seed=0)
    changed = [k for k, v in init.state_dict().items() if not torch.equal(v, ref["model." + k])]
    assert changed
    ema_diff = [k for k in init.state_dict() if not torch.equal(ref["model." + k], ref["ema_model." + k])]
    assert ema_diff  # decay 0.9 after step 2: the EMA lags the model


def test_export_and_reload(straight, data, tmp_path):
    from audiokit.checkpoint import load_pretrained

    _, ref, exp = straight
    ckpt = exp / "checkpoints" / "last.ckpt"
    ema, node = tts_from_checkpoint(ckpt, exp / "config.yaml")
    raw, _ = tts_from_checkpoint(ckpt, exp / "config.yaml", ema=False)
    key = next(iter(ema.state_dict()))
    assert torch.equal(ema.state_dict()[key], ref["ema_model." + key])
    assert torch.equal(raw.state_dict()[key], ref["model." + key])
    out = export_tts(ckpt, exp / "config.yaml", data / "vocab.txt", tmp_path / "packed")
    assert (out / "vocab.txt").read_text() == (data / "vocab.txt").read_text()
    loaded = load_pretrained(out)
    n = len(read_vocab(data / "vocab.txt"))
    assert loaded.vocab_size == n
    emb = "transformer.text_embed.text_embed.weight"
    for k, v in ema.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v[: n + 1] if k == emb else v), k
    ids = torch.tensor([[1, 2, 3, -1]])  # same text embedding for every valid id
    assert torch.equal(loaded.transformer.embed_text(ids, 6), ema.transformer.embed_text(ids, 6))
    with pytest.raises(CheckpointError):
        tts_from_checkpoint(data / "vocab.txt", exp / "config.yaml")


@pytest.mark.parametrize("name", ["train_f5tts_debug", "train_f5tts_mini", "train_f5tts_v1_base"])
def test_training_configs_resolve(name):
    cfg = resolve_config(load_config(ROOT / "configs" / "tts" / f"{name}.yaml", []))
    assert cfg["task"]["class_path"] == "audiokit.train.tts.F5TTSTask"
    model, data = cfg["task"]["init_args"]["model"]["init_args"], cfg["data"]["init_args"]
    for key in ("sample_rate", "hop_length", "mel_floor"):  # the data's mel is the model's mel
        assert data[key] == model[key], key
    assert data["n_mels"] == model["mel_dim"]
    if name == "train_f5tts_v1_base":  # the release's mel (Vocos mel-24 kHz)
        assert (model["sample_rate"], model["hop_length"], model["mel_dim"]) == (24000, 256, 100)
