"""CodecGANTask: which parameters each optimiser step changes, discriminator warm-up,
exact resume of the two-optimiser GAN, export of the trained codec, the data module, configs.

Everything runs a tiny WavTokenizer (configs/codec/train_wavtokenizer_debug.yaml) on
synthetic audio written to Kaldi data dirs in a tmp folder.
"""

from __future__ import annotations

import copy
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.config import load_config
from audiokit.data.kaldi import DataDir
from audiokit.errors import CheckpointError, ConfigError
from audiokit.train.codec import CodecGANTask, codec_from_checkpoint, cosine_factor
from audiokit.train.codec_data import CodecDataModule, CropDataset, crop_or_tile, peak_normalize
from audiokit.train.runner import resolve_config, train

ROOT = Path(__file__).resolve().parents[3]
DEBUG = ROOT / "configs" / "codec" / "train_wavtokenizer_debug.yaml"


def _write_dir(root: Path, name: str, n: int, sr: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    dd = DataDir()
    for i in range(n):
        t = np.arange(int(sr * rng.uniform(0.15, 0.5))) / sr
        wav = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.05 * rng.standard_normal(len(t))
        path = root / "wav" / f"{name}-{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav.astype(np.float32), sr)
        dd.wav_scp[f"{name}-{i:02d}"], dd.utt2spk[f"{name}-{i:02d}"] = str(path), name
    dd.save(root / name)
    return root / name


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("codecdata")
    _write_dir(root, "train", 10, 16000, 0)
    _write_dir(root, "dev", 4, 24000, 1)
    return root


def _config(data: Path, exp: Path, **trainer) -> dict:
    cfg = load_config(DEBUG, [f"exp_dir={exp}", f"data.train_dirs=[{data / 'train'}]",
                              f"data.val_dirs=[{data / 'dev'}]", "loggers=[]",
                              "trainer.enable_progress_bar=false", "task.decay_steps=6"])
    cfg["trainer"].update(trainer)
    return cfg


def _task(disc_start: int = 0) -> CodecGANTask:
    from audiokit.config import instantiate

    cfg = load_config(DEBUG)
    node = copy.deepcopy(cfg["task"])
    node["init_args"]["disc_start"] = disc_start
    torch.manual_seed(0)
    return instantiate(node)


class _Recorder(pl.Callback):
    """Names of the parameters holding gradients at every optimiser step."""

    def __init__(self) -> None:
        self.steps: list[set[str]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.steps.append({n for n, p in pl_module.named_parameters() if p.grad is not None})


def _fit(task: CodecGANTask, data: Path, max_steps: int) -> tuple[dict, dict, _Recorder]:
    dm = CodecDataModule([str(data / "train")], sample_rate=24000, num_samples=4800, batch_size=2)
    before = {k: v.detach().clone() for k, v in task.named_parameters()}
    rec = _Recorder()
    trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[rec],
                         limit_val_batches=0)
    trainer.fit(task, datamodule=dm)
    after = {k: v.detach().clone() for k, v in task.named_parameters()}
    return before, after, rec


def _changed(before: dict, after: dict, prefix: str) -> list[bool]:
    return [not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)]


def test_discriminator_step_then_generator_step_touch_only_their_parameters(data):
    task = _task(disc_start=0)
    before, after, rec = _fit(task, data, max_steps=2)  # one iteration = two optimiser steps
    assert task.iteration == 1 and len(rec.steps) == 2
    d_grads, g_grads = rec.steps
    assert d_grads and all(n.startswith("discriminators.") for n in d_grads)
    assert g_grads and all(n.startswith("model.") for n in g_grads)
    assert any(n.startswith("discriminators.mpd") for n in d_grads)
    assert any(n.startswith("discriminators.mrd") for n in d_grads)
    assert any(n.startswith("model.encoder") for n in g_grads)
    assert any(n.startswith("model.backbone") for n in g_grads)
    assert any(_changed(before, after, "model.")) and any(_changed(before, after, "discriminators."))


def test_discriminator_warm_up_is_honoured(data):
    task = _task(disc_start=2)
    before, after, rec = _fit(task, data, max_steps=2)  # two warm-up iterations, one step each
    assert task.iteration == 2 and len(rec.steps) == 2
    assert all(all(n.startswith("model.") for n in names) for names in rec.steps)
    assert not any(_changed(before, after, "discriminators."))
    assert any(_changed(before, after, "model."))
    # the third iteration trains the discriminators too
    before, after, rec = _fit(task, data, max_steps=2)
    assert task.iteration == 3 and any(n.startswith("discriminators.") for n in rec.steps[0])
    assert any(_changed(before, after, "discriminators."))


def test_generator_step_uses_adversarial_losses_only_after_warm_up(data):
    task = _task(disc_start=1)
    y = torch.randn(2, 1, 4800) * 0.1
    y_hat, q = task.reconstruct(y)
    assert y_hat.shape == y.shape and q.codes.shape == (2, 1, 4800 // 32)
    loss0, logs0 = task.generator_loss(y, y_hat, q, adversarial=False)
    loss1, logs1 = task.generator_loss(y, y_hat, q, adversarial=True)
    assert "adv_mpd" not in logs0 and {"adv_mpd", "fm_mpd", "adv_mrd", "fm_mrd"} <= logs1.keys()
    assert float(loss1) > float(loss0)
    assert float(logs0["g_loss"]) == pytest.approx(45 * float(logs0["mel"]) + 1000 * float(logs0["commit"]))


def test_cosine_schedule():
    assert cosine_factor(0, 0, 100) == 1.0
    assert cosine_factor(50, 0, 100) == pytest.approx(0.5)
    assert cosine_factor(100, 0, 100) == pytest.approx(0.0) == cosine_factor(500, 0, 100)
    assert cosine_factor(0, 4, 100) == pytest.approx(0.25)
    assert cosine_factor(7, 0, None) == 1.0


def test_adversarial_settings_are_checked():
    task = _task()
    with pytest.raises(ConfigError, match="not a discriminator name"):
        CodecGANTask(task.model, dict(task.discriminators), adversarial={"mdp": {}})
    with pytest.raises(ConfigError, match="unknown setting 'wieght'"):
        CodecGANTask(task.model, dict(task.discriminators), adversarial={"mpd": {"wieght": 1}})


# --------------------------------------------------------------------------- resume
STEPS = 10


def _params(trainer: pl.Trainer) -> dict:
    return {k: v.detach().clone() for k, v in trainer.lightning_module.state_dict().items()}


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    exp = tmp_path_factory.mktemp("straight")
    trainer = train(_config(data, exp, max_steps=STEPS))
    return trainer, _params(trainer), exp


@pytest.mark.parametrize("k", [1, 5])  # 1: inside the discriminator warm-up; 5: mid-iteration count
def test_gan_resume_is_exact(data, tmp_path, straight, k):
    ref_trainer, ref, _ = straight
    exp = tmp_path / "exp"
    first = train(_config(data, exp, max_steps=k))
    assert first.global_step >= k
    second = train(_config(data, exp, max_steps=STEPS))  # auto-resume from last.ckpt
    assert second.global_step == ref_trainer.global_step
    assert second.lightning_module.iteration == ref_trainer.lightning_module.iteration
    state = _params(second)
    assert state.keys() == ref.keys()
    for key in ref:
        assert torch.allclose(state[key].float(), ref[key].float(), atol=1e-6, rtol=0), key
    opt_ref = [o.state_dict() for o in ref_trainer.optimizers]
    opt_new = [o.state_dict() for o in second.optimizers]
    for a, b in zip(opt_ref, opt_new):
        for pid, st in a["state"].items():
            assert torch.allclose(st["exp_avg"], b["state"][pid]["exp_avg"], atol=1e-6, rtol=0)
    lrs = [s.scheduler.get_last_lr() for s in second.lr_scheduler_configs]
    assert lrs == [s.scheduler.get_last_lr() for s in ref_trainer.lr_scheduler_configs]


def test_straight_run_counts_steps_and_iterations(straight):
    trainer, _, exp = straight
    # 2 warm-up iterations (1 step each), then 4 iterations of 2 steps
    assert trainer.global_step == STEPS and trainer.lightning_module.iteration == 6
    assert (exp / "checkpoints" / "last.ckpt").is_file()
    assert trainer.lightning_module.model.codebook_initialized


def test_codec_from_checkpoint(straight):
    _, ref, exp = straight
    model, node = codec_from_checkpoint(exp / "checkpoints" / "last.ckpt", exp / "config.yaml")
    assert node["class_path"] == "audiokit.models.codec.wavtokenizer.WavTokenizer"
    for key, value in model.state_dict().items():
        assert torch.equal(value, ref[f"model.{key}"]), key
    codes = model.encode(torch.randn(1, 1, 2400) * 0.1)
    assert codes.shape == (1, 1, 75)
    with pytest.raises(CheckpointError):
        codec_from_checkpoint(exp / "config.yaml", exp / "config.yaml")


# --------------------------------------------------------------------------- data
def test_crops_are_deterministic_per_epoch_and_normalised(data):
    ds = CropDataset([str(data / "train"), str(data / "dev")], sample_rate=24000, num_samples=9600,
                     train=True, seed=3)
    assert len(ds) == 14
    a, b, c = ds[(0, 0)]["wav"], ds[(0, 0)]["wav"], ds[(0, 1)]["wav"]
    assert a.shape == (9600,) and torch.equal(a, b) and not torch.equal(a, c)
    peak_db = 20 * np.log10(float(a.abs().max()))
    assert -6.01 <= peak_db <= -0.99
    val = CropDataset([str(data / "dev")], sample_rate=24000, num_samples=2400, train=False, seed=3)
    assert 20 * np.log10(float(val[0]["wav"].abs().max())) <= -2.99
    assert torch.equal(val[1]["wav"], val[1]["wav"])


def test_dither_adds_a_noise_floor_to_training_crops_only(data):
    kw = dict(sample_rate=24000, num_samples=9600, seed=3)
    clean = CropDataset([str(data / "train")], train=True, **kw)[(0, 0)]["wav"]
    noisy_ds = CropDataset([str(data / "train")], train=True, dither=1e-3, **kw)
    noisy = noisy_ds[(0, 0)]["wav"]
    assert noisy.dtype == clean.dtype and torch.equal(noisy, noisy_ds[(0, 0)]["wav"])  # deterministic
    assert 0.8e-3 < float((noisy - clean).std()) < 1.2e-3
    dm = CodecDataModule([str(data / "train")], [str(data / "dev")], num_samples=4800, dither=1e-3)
    dm.setup("fit")
    val = CropDataset([str(data / "dev")], sample_rate=24000, num_samples=4800, train=False, seed=0)
    assert dm.val_set.dither == 0.0 and torch.equal(dm.val_set[0]["wav"], val[0]["wav"])
    with pytest.raises(ConfigError):
        CropDataset([str(data / "train")], train=True, dither=-1.0, **kw)


def test_crop_helpers():
    x = np.arange(5, dtype=np.float32)
    assert crop_or_tile(x, 12, 0).tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    assert crop_or_tile(x, 3, 10).tolist() == [2, 3, 4]
    assert np.abs(peak_normalize(x, -6.0)).max() == pytest.approx(10 ** (-6 / 20))
    assert not peak_normalize(np.zeros(4, np.float32), -3).any()


def test_data_module_batches(data):
    dm = CodecDataModule([str(data / "train")], [str(data / "dev")], num_samples=4800, batch_size=3,
                         val_batch_size=2, val_max_items=3)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["wav"].shape == (3, 1, 4800) and len(batch["ids"]) == 3
    assert len(dm.train_batch_sampler) == 3  # 10 items, drop_last
    assert [b["wav"].shape[0] for b in dm.val_dataloader()] == [2, 1]


# --------------------------------------------------------------------------- configs
@pytest.mark.parametrize("name", ["small_75", "small_40", "medium_75", "large_75", "mini", "debug"])
def test_training_configs_resolve(name):
    cfg = resolve_config(load_config(ROOT / "configs" / "codec" / f"train_wavtokenizer_{name}.yaml"))
    args = cfg["task"]["init_args"]
    assert cfg["task"]["class_path"] == "audiokit.train.codec.CodecGANTask"
    assert args["mel_weight"] == 45.0 and args["commit_weight"] == 1000.0
    assert cfg["data"]["init_args"]["sample_rate"] == args["model"]["init_args"]["sample_rate"]
    if name not in ("mini", "debug"):
        assert args["lr"] == 2e-4 and args["disc_start"] == 0
        assert set(args["discriminators"]) == {"mpd", "mrd", "dac_mpd", "dac_mrd"}
        assert cfg["data"]["init_args"]["num_samples"] == 72000
