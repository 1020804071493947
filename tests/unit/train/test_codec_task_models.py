"""CodecGANTask driving HiFi-Codec and Language-Codec (their debug training configs).

One GAN iteration (discriminator step, then generator step) must move exactly the right
parameters for each codec; the HiFi-Codec objective pieces (extra mels, quantizer weight,
Adam + exponential LR) and non-trainable discriminators behave as configured.
"""

from __future__ import annotations

import copy
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.config import instantiate, load_config
from audiokit.data.kaldi import DataDir
from audiokit.errors import ConfigError
from audiokit.train.codec import CodecGANTask
from audiokit.train.codec_data import CodecDataModule

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = {name: ROOT / "configs" / "codec" / f"train_{name}_debug.yaml" for name in ("hificodec", "languagecodec")}
#: (discriminators, generator sub-modules that must get gradients) per codec
EXPECTED = {
    "hificodec": (("mpd", "msd", "mstftd"), ("encoder", "quantizer", "generator")),
    "languagecodec": (("mpd", "mrd"), ("encoder", "backbone", "head")),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("codecdata")
    rng = np.random.default_rng(0)
    dd = DataDir()
    for i in range(6):
        sr = 24000
        t = np.arange(int(sr * rng.uniform(0.3, 0.5))) / sr
        wav = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.05 * rng.standard_normal(len(t))
        path = root / "wav" / f"u{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav.astype(np.float32), sr)
        dd.wav_scp[f"u{i:02d}"], dd.utt2spk[f"u{i:02d}"] = str(path), "s"
    dd.save(root / "train")
    return root / "train"


def _node(name: str, **overrides) -> dict:
    node = copy.deepcopy(load_config(CONFIGS[name])["task"])
    node["init_args"].update(overrides)
    return node


def _task(name: str, **overrides) -> CodecGANTask:
    torch.manual_seed(0)
    return instantiate(_node(name, **overrides))


class _Recorder(pl.Callback):
    """Names of the parameters holding gradients, and the LRs, at every optimiser step."""

    def __init__(self) -> None:
        self.steps: list[set[str]] = []
        self.lrs: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.steps.append({n for n, p in pl_module.named_parameters() if p.grad is not None})
        self.lrs.append(optimizer.param_groups[0]["lr"])


def _fit(task: CodecGANTask, data: Path, max_steps: int) -> tuple[dict, dict, _Recorder]:
    sr = int(task.model.sample_rate)
    dm = CodecDataModule([str(data)], sample_rate=sr, num_samples=sr // 5, batch_size=2)
    before = {k: v.detach().clone() for k, v in task.named_parameters()}
    rec = _Recorder()
    trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[rec],
                         limit_val_batches=0)
    trainer.fit(task, datamodule=dm)
    after = {k: v.detach().clone() for k, v in task.named_parameters()}
    return before, after, rec


def _changed(before: dict, after: dict, prefix: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_one_iteration_moves_the_right_parameters(data, name):
    task = _task(name, disc_start=0)
    before, after, rec = _fit(task, data, max_steps=2)  # one iteration = D step + G step
    assert task.iteration == 1 and len(rec.steps) == 2
    d_grads, g_grads = rec.steps
    discs, parts = EXPECTED[name]
    assert d_grads and all(n.startswith("discriminators.") for n in d_grads)
    assert g_grads and all(n.startswith("model.") for n in g_grads)
    for disc in discs:
        assert any(n.startswith(f"discriminators.{disc}.") for n in d_grads), disc
        assert _changed(before, after, f"discriminators.{disc}."), disc
    for part in parts:
        assert any(n.startswith(f"model.{part}.") for n in g_grads), part
        assert _changed(before, after, f"model.{part}."), part


def test_hificodec_generator_loss_is_its_objective():
    task = _task("hificodec").eval()
    torch.manual_seed(1)
    y = 0.1 * torch.randn(2, 1, 3200)
    y_hat, q = task.reconstruct(y)
    assert q.codes.shape == (2, 4, 10)  # model(wav): all 4 codebooks, hop 320
    loss, logs = task.generator_loss(y, y_hat, q, adversarial=False)
    expected = 45.0 * logs["mel"] + 10.0 * logs["commit"] + logs["mel_extra"]
    assert logs["mel_extra"] > 0 and torch.allclose(loss.detach(), expected)
    _, logs = task.generator_loss(y, y_hat, q, adversarial=True)
    for disc in EXPECTED["hificodec"][0]:
        assert logs[f"adv_{disc}"] > 0 and logs[f"fm_{disc}"] > 0


def test_crops_that_are_not_whole_hops_are_padded_then_cut():
    task = _task("hificodec").eval()
    y = 0.1 * torch.randn(1, 1, 3000)  # 9.375 hops of 320
    with torch.no_grad():
        y_hat, q = task.reconstruct(y)
        padded, _ = task.reconstruct(torch.nn.functional.pad(y, (0, 200)))
    assert y_hat.shape == (1, 1, 3000) and q.codes.shape == (1, 4, 10)
    assert torch.equal(y_hat, padded[..., :3000])


def test_hificodec_adam_with_exponential_decay(data):
    task = _task("hificodec", disc_start=0, lr=1e-3, lr_gamma=0.5, lr_decay_every=2)
    _, _, rec = _fit(task, data, max_steps=8)  # 4 iterations
    opt_g, opt_d = task.optimizers(use_pl_optimizer=False)
    for opt in (opt_g, opt_d):
        assert opt.param_groups[0]["betas"] == (0.5, 0.9) and opt.param_groups[0]["weight_decay"] == 0.0
    # (D, G) LR per iteration: 1e-3 x 0.5 ** (iteration // 2)
    assert rec.lrs == pytest.approx([1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4])


def test_non_trainable_discriminator_scores_but_never_trains(data):
    adversarial = {"mpd": {"kind": "hinge", "conditional": True},
                   "mrd": {"kind": "hinge", "conditional": True, "trainable": False}}
    task = _task("languagecodec", disc_start=0, adversarial=adversarial)
    before, after, rec = _fit(task, data, max_steps=2)
    d_grads = rec.steps[0]
    assert not any(n.startswith("discriminators.mrd.") for n in d_grads)
    assert not _changed(before, after, "discriminators.mrd.")
    assert _changed(before, after, "discriminators.mpd.")
    opt_d = task.optimizers(use_pl_optimizer=False)[1]
    in_opt = {id(p) for g in opt_d.param_groups for p in g["params"]}
    assert not any(id(p) in in_opt for p in task.discriminators["mrd"].parameters())
    y = 0.1 * torch.randn(2, 1, 4800)
    y_hat, q = task.reconstruct(y)
    _, logs = task.generator_loss(y, y_hat, q, adversarial=True)
    assert "adv_mrd" in logs and "d_mrd" not in task.discriminator_loss(y, y_hat.detach())[1]


@pytest.mark.parametrize("overrides, message", [
    ({"schedule": "linear"}, "task.schedule"),
    ({"mel": {"convention": "kaldi"}}, "task.mel.convention"),
    ({"extra_mels": [{"n_fft": 256, "hops": 60}]}, "task.extra_mels[0]"),
    ({"lr_decay_every": 0}, "lr_decay_every"),
])
def test_bad_settings_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _task("hificodec", **overrides)


@pytest.mark.parametrize("name", ["hificodec_mini", "hificodec_debug", "hificodec_24k_320d",
                                  "languagecodec_mini", "languagecodec_debug", "languagecodec_v2"])
def test_training_configs_resolve_with_their_objective(name):
    from audiokit.train.runner import resolve_config

    cfg = resolve_config(load_config(ROOT / "configs" / "codec" / f"train_{name}.yaml"))
    args = cfg["task"]["init_args"]
    assert cfg["data"]["init_args"]["sample_rate"] == args["model"]["init_args"]["sample_rate"]
    assert args["mel_weight"] == 45.0
    if name.startswith("hificodec"):
        assert args["commit_weight"] == 10.0 and args["bandwidth_id"] is None
        assert list(args["betas"]) == [0.5, 0.9] and args["weight_decay"] == 0.0
        assert args["schedule"] == "exponential" and args["lr_gamma"] == 0.98
        assert set(args["discriminators"]) == {"mpd", "msd", "mstftd"}
        assert all(a["kind"] == "lsgan" and a["fm_weight"] == 2.0 and not a["average"]
                   for a in args["adversarial"].values())
        assert len(args["extra_mels"]) == (1 if name.endswith("debug") else 2)
    else:
        assert args["commit_weight"] == 1000.0 and args["bandwidth_id"] == 0
        assert all(args["adversarial"][d]["kind"] == "hinge" for d in ("mpd", "mrd"))
        if name.endswith("v2"):
            assert not args["adversarial"]["dac_mpd"]["trainable"] and not args["adversarial"]["dac_mrd"]["trainable"]
    if not name.endswith(("24k_320d", "v2")):  # full sizes: building them is slow; the others must build
        task = instantiate(copy.deepcopy(cfg["task"]))
        assert isinstance(task, CodecGANTask)
