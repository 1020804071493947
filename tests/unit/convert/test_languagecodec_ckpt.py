"""Official Language-Codec checkpoints: synthetic files in the exact released layout, both versions.

Layout facts (codecs.md §5.4, §5.6, §9; jishengpeng/Languagecodec ``languagecodec_decoder/experiment.py``
(attribute names ``feature_extractor``, ``backbone``, ``head``, ``multiperioddisc``, ``multiresddisc``,
``dac``, ``dacdiscriminator`` = ``DACGANLoss(self.dac)``, ``melspec_loss``),
``languagecodec_decoder/feature_extractors.py`` (``EncodecFeatures.encodec = EncodecModel(encoder,
decoder, quantizer)``, SEANet ratios [8, 5, 4, 2], dimension 128, ``bins`` 1024 in v2 and 2048 in the
v1 tree at commit 670e370), ``languagecodec_decoder/pretrained.py`` (reads ``['state_dict']``)):

* the file is a PyTorch-Lightning ``.ckpt``: ``state_dict`` next to ``epoch``, ``global_step``,
  ``pytorch-lightning_version``, ``optimizer_states``, ``lr_schedulers``, ``callbacks``, ``loops``,
  ``hparams_name``, ``hyper_parameters`` (plain values: ``torch.load(weights_only=True)`` reads it);
* ``state_dict`` keys in registration order: ``feature_extractor.encodec.encoder.*`` (SEANet, legacy
  ``weight_g``/``weight_v``), ``feature_extractor.encodec.decoder.*`` (unused SEANet decoder),
  ``feature_extractor.encodec.quantizer.vq.layers.{0..7}._codebook.{inited,cluster_size,embed,
  embed_avg}``, ``backbone.{embed,norm.scale,norm.shift,convnext.{i},final_layer_norm}`` (no
  ``pos_net``), ``head.{out,istft.window}``, ``multiperioddisc.*`` and ``multiresddisc.*`` (conditional:
  ``emb.weight``), v2 only: ``dac.discriminators.*`` and its duplicate ``dacdiscriminator.discriminator.*``,
  then ``melspec_loss.mel_spec.{spectrogram.window,mel_scale.fb}``;
* v1 and v2 share file and key names; they differ in codebook size (2048 / 1024) and ConvNeXt depth
  (8 / 12).

The synthetic models keep the real structure and sizes where they are cheap (hop 320 from ratios
[8, 5, 4, 2], 8 codebooks of the real size, real depths, AdaLN x 4, n_fft 1280) with tiny widths.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import torch

from audiokit.checkpoint import load_pretrained
from audiokit.convert import languagecodec as lc
from audiokit.convert import wavtokenizer as wt
from audiokit.errors import CheckpointError
from audiokit.models.codec.languagecodec import LanguageCodec
from audiokit.nn import SEANetDecoder
from audiokit.quantizers.masked import channel_bounds
from tests.unit.convert._wavtokenizer_fixture import _prefixed, with_training_keys

TINY = {"sample_rate": 24000, "ratios": [8, 5, 4, 2], "dimension": 12, "n_filters": 2, "lstm": 2, "n_q": 8,
        "backbone_dim": 16, "intermediate_dim": 24, "adanorm_num_embeddings": 4, "n_fft": 1280}
VERSIONS = {"v2": {"codebook_size": 1024, "num_layers": 12}, "v1": {"codebook_size": 2048, "num_layers": 8}}
TO_OFFICIAL = {"encoder.": "feature_extractor.encodec.encoder.",
               "quantizer.": "feature_extractor.encodec.quantizer.", "backbone.": "backbone.", "head.": "head."}


def tiny_model(version: str, seed: int = 0) -> LanguageCodec:
    """A tiny model of ``version`` with random weights and trained-looking codebooks."""
    torch.manual_seed(seed)
    model = LanguageCodec(**TINY, **VERSIONS[version], train_n_q=lc.RELEASES[version]["train_n_q"]).eval()
    with torch.no_grad():
        for layer in model.quantizer.layers:
            cb = layer.codebook
            cb.embed.copy_(torch.randn_like(cb.embed) * 0.3)
            cb.embed_avg.copy_(cb.embed * 3)
            cb.cluster_size.fill_(3.0)
            cb.inited.fill_(1.0)
    return model


def official_state_dict(model: LanguageCodec, version: str, style: str = "legacy") -> dict[str, torch.Tensor]:
    """The full official ``state_dict`` of ``model`` (+ tiny training-only parts), in file order."""
    torch.manual_seed(123)
    gen = {}
    for key, value in model.state_dict().items():
        prefix = next(p for p in TO_OFFICIAL if key.startswith(p))
        gen[TO_OFFICIAL[prefix] + key[len(prefix):]] = value.clone()
    decoder = SEANetDecoder(dimension=TINY["dimension"], n_filters=TINY["n_filters"], ratios=TINY["ratios"])
    state = {k: v for k, v in gen.items() if k.startswith("feature_extractor.encodec.encoder.")}
    state.update(_prefixed("feature_extractor.encodec.decoder.", decoder))
    state.update({k: v for k, v in gen.items() if not k.startswith("feature_extractor.encodec.encoder.")})
    return with_training_keys(state, dac=version == "v2", style=style)


def lightning_checkpoint(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """A Lightning ``.ckpt`` dict around ``state`` (plain values only)."""
    first = next(iter(state.values()))
    return {
        "epoch": 7, "global_step": 1268768, "pytorch-lightning_version": "1.8.6", "state_dict": state,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 8}}}},
        "callbacks": {"ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
            "monitor": "val_loss", "best_model_score": torch.tensor(2.9373),
            "best_model_path": "version_1/checkpoints/vocos_checkpoint_epoch=7.ckpt"}},
        "optimizer_states": [{"state": {0: {"step": torch.tensor(600.0), "exp_avg": torch.zeros_like(first),
                                            "exp_avg_sq": torch.zeros_like(first)}},
                              "param_groups": [{"lr": 2e-4, "betas": (0.9, 0.999), "eps": 1e-8,
                                                "weight_decay": 0.01, "amsgrad": False, "params": [0]}]}] * 2,
        "lr_schedulers": [{"base_lrs": [2e-4], "last_epoch": 600, "_step_count": 601, "verbose": False,
                           "_last_lr": [1.9e-4], "lr_lambdas": [None]}] * 2,
        "hparams_name": "kwargs",
        "hyper_parameters": {"sample_rate": 24000, "initial_learning_rate": 2e-4, "mel_loss_coeff": 45,
                             "mrd_loss_coeff": 1.0, "num_warmup_steps": 0, "pretrain_mel_steps": 0,
                             "evaluate_utmos": True, "resume": False},
    }


def official_yaml(num_layers: int, backbone_dim: int = 16) -> str:
    """An official-style training YAML (configs/languagecodec_mm.yaml shape; reference class paths)."""
    return f"""seed_everything: 4444
data:
  class_path: languagecodec_decoder.dataset.VocosDataModule
  init_args: {{train_params: {{filelist_path: x, sampling_rate: 24000, num_samples: 24000}}}}
model:
  class_path: languagecodec_decoder.experiment.VocosEncodecExp
  init_args:
    sample_rate: 24000
    initial_learning_rate: 2e-4
    mel_loss_coeff: 45
    feature_extractor:
      class_path: languagecodec_decoder.feature_extractors.EncodecFeatures
      init_args: {{encodec_model: encodec_24khz, bandwidths: [6.6, 6.6, 6.6, 6.6], train_codebooks: true}}
    backbone:
      class_path: languagecodec_decoder.models.VocosBackbone
      init_args: {{input_channels: 12, dim: {backbone_dim}, intermediate_dim: 24, num_layers: {num_layers},
                  adanorm_num_embeddings: 4}}
    head:
      class_path: languagecodec_decoder.heads.ISTFTHead
      init_args: {{dim: {backbone_dim}, n_fft: 1280, hop_length: 320, padding: same}}
trainer:
  max_steps: 20000000
"""


@pytest.fixture(scope="module", params=["v2", "v1"])
def release(request, tmp_path_factory):
    """``(version, source model, path of its official .ckpt)``."""
    version = request.param
    model = tiny_model(version)
    path = tmp_path_factory.mktemp(version) / "languagecodec_paper_8nq.ckpt"
    torch.save(lightning_checkpoint(official_state_dict(model, version)), path)
    return version, model, path


def _wav(length: int = 24000 + 123, seed: int = 0) -> torch.Tensor:
    return 0.3 * torch.randn(2, 1, length, generator=torch.Generator().manual_seed(seed))


def _one_line_error(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and message
    return message


# --------------------------------------------------------------------------- loading
def test_load_infers_the_release_and_reproduces_the_model(release):
    version, source, path = release
    ckpt = lc.read_checkpoint(path)
    assert ckpt.release == version
    assert ckpt.meta == {"epoch": 7, "global_step": 1268768, "pytorch-lightning_version": "1.8.6"}
    expected = {**TINY, **VERSIONS[version], "train_n_q": lc.RELEASES[version]["train_n_q"]}
    assert {k: ckpt.init_args[k] for k in expected} == expected
    model = ckpt.build(str(path))
    assert (model.sample_rate, model.hop_length, model.frame_rate) == (24000, 320, 75.0)
    assert model.n_codebooks == 8 and model.codebook_size == VERSIONS[version]["codebook_size"]
    wav = _wav()
    codes = model.encode(wav)
    assert codes.shape == (2, 8, 76)  # ceil(24123 / 320)
    assert torch.equal(codes, source.encode(wav))
    assert torch.equal(codes, model.encode(wav))  # deterministic
    out = model.decode(codes)
    assert out.shape == (2, 1, 76 * 320)
    assert torch.allclose(out, source.decode(codes), atol=1e-5)
    fewer = model.decode(codes[:, :4])
    assert fewer.shape == out.shape and not torch.allclose(fewer, out)
    assert torch.equal(model.encode(wav, n_q=4), codes[:, :4])


def test_loaded_model_masks_channels(release):
    _, _, path = release
    model = lc.load_checkpoint(path)
    x = model.encoder(_wav(seed=1)).detach()
    codes = model.quantizer.encode(x)
    for stage, (start, stop) in enumerate(channel_bounds(x.shape[1])):
        changed = x.clone()
        changed[:, :start] = 5.0
        changed[:, stop:] = -5.0
        assert torch.equal(model.quantizer.encode(changed)[:, stage], codes[:, stage])


def test_formats_are_told_apart(release):
    version, source, _ = release
    state = official_state_dict(source, version)
    assert lc.matches(state) and not wt.matches(state)
    wavtokenizer_like = {**state, "backbone.pos_net.5.weight": torch.ones(16)}
    assert not lc.matches(wavtokenizer_like)


def test_parametrized_weight_norm_names_load(release, tmp_path):
    version, source, _ = release
    path = tmp_path / "reparam.ckpt"
    torch.save(lightning_checkpoint(official_state_dict(source, version, style="parametrize")), path)
    wav = _wav(length=3000)
    assert torch.equal(lc.load_checkpoint(path).encode(wav), source.encode(wav))


def test_discriminators_kept_on_request(release):
    version, _, path = release
    ckpt = lc.read_checkpoint(path, keep_discriminators=True)
    prefixes = {k.split(".")[0] for k in ckpt.discriminators}
    assert prefixes == ({"multiperioddisc", "multiresddisc", "dac"} if version == "v2"
                        else {"multiperioddisc", "multiresddisc"})
    assert lc.read_checkpoint(path).discriminators is None


def test_official_yaml_must_agree(release, tmp_path):
    version, _, path = release
    good = tmp_path / "good.yaml"
    good.write_text(official_yaml(VERSIONS[version]["num_layers"]))
    assert lc.read_checkpoint(path, config=good).release == version
    bad = tmp_path / "bad.yaml"
    bad.write_text(official_yaml(20 - VERSIONS[version]["num_layers"]))  # the other release's depth
    with pytest.raises(CheckpointError) as excinfo:
        lc.read_checkpoint(path, config=bad)
    assert "num_layers" in _one_line_error(excinfo)


def test_convert_then_load_pretrained(release, tmp_path):
    _, source, path = release
    out = lc.convert_checkpoint(path, tmp_path / "converted")
    model = load_pretrained(out)
    assert isinstance(model, LanguageCodec)
    wav = _wav(length=5000)
    assert torch.equal(model.encode(wav), source.encode(wav))
    with pytest.raises(Exception) as excinfo:
        lc.convert_checkpoint(path, out)
    assert "exist" in str(excinfo.value)


# --------------------------------------------------------------------------- bad files
def test_corrupt_and_foreign_files_are_one_line_errors(release, tmp_path):
    _, _, path = release
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00not a checkpoint" * 50)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(path.read_bytes()[: 4096])
    for bad in (garbage, truncated, tmp_path / "missing.ckpt"):
        with pytest.raises(CheckpointError) as excinfo:
            lc.read_checkpoint(bad)
        assert str(bad) in _one_line_error(excinfo)


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as fh:
        pickle.dump({"state_dict": _Evil()}, fh, protocol=2)
    with pytest.raises(CheckpointError) as excinfo:
        lc.read_checkpoint(path)
    assert "refused" in _one_line_error(excinfo)


def test_bad_states_are_one_line_errors():
    source = tiny_model("v2")
    state = official_state_dict(source, "v2")
    uninit = dict(state)
    uninit["feature_extractor.encodec.quantizer.vq.layers.5._codebook.inited"] = torch.zeros(1)
    extra = {**state, "feature_extractor.encodec.something_else": torch.ones(1)}
    missing = {k: v for k, v in state.items() if "convnext.1.pwconv2" not in k}
    bad_codebook = dict(state)
    bad_codebook["feature_extractor.encodec.quantizer.vq.layers.2._codebook.embed"] = torch.ones(1024, 7)
    for bad, word in ((uninit, "never initialised"), (extra, "unexpected"), (missing, "missing"),
                      (bad_codebook, "different shapes"), ({"head.out.weight": torch.ones(2)}, "not a")):
        with pytest.raises(CheckpointError) as excinfo:
            lc.from_state(bad, where="x.ckpt").build("x.ckpt")
        message = _one_line_error(excinfo)
        assert message.startswith("x.ckpt: ") and word in message


def test_full_size_state_dicts_give_both_releases():
    """Shape inference on real-size v2/v1 state dicts (in memory) recovers the release configs."""
    for version in ("v2", "v1"):
        model = LanguageCodec(**lc.release_init_args(version))
        for layer in model.quantizer.layers:
            layer.codebook.inited.fill_(1.0)
        state = {}
        for key, value in model.state_dict().items():
            prefix = next(p for p in TO_OFFICIAL if key.startswith(p))
            state[TO_OFFICIAL[prefix] + key[len(prefix):]] = value
        ckpt = lc.from_state(state, where="full.ckpt")
        assert ckpt.release == version
        assert ckpt.init_args == model.init_args
        shape = tuple(state["feature_extractor.encodec.quantizer.vq.layers.0._codebook.embed"].shape)
        assert shape == ((1024, 128) if version == "v2" else (2048, 128))


# --------------------------------------------------------------------------- bundles
def test_pretrained_load_and_bundles(release, tmp_path, monkeypatch):
    import dataclasses

    from audiokit import pretrained

    version, source, path = release
    wav = _wav(length=3000)
    assert torch.equal(pretrained.load(path).encode(wav), source.encode(wav))  # format detected from keys

    monkeypatch.setenv("AUDIOKIT_HOME", str(tmp_path / "home"))
    names = {"v2": ["languagecodec-paper-8nq"], "v1": ["languagecodec-v1-paper-8nq", "languagecodec-v1-chinese-8nq"]}
    for name in names[version]:
        bundle = pretrained.get_bundle(name)
        assert dict(bundle.init_args) == lc.release_init_args(version)
        assert (bundle.frame_rate, bundle.file_pattern) == (75.0, "*.ckpt")
    bundle = pretrained.get_bundle(names[version][0])
    with pytest.raises(CheckpointError, match="does not download") as excinfo:
        pretrained.load(bundle.name)
    assert "*.ckpt" in _one_line_error(excinfo) and "Languagecodec" in _one_line_error(excinfo)
    # the Drive file names are not published: any one *.ckpt is taken, and checked against the release
    bundle.cache_dir().mkdir(parents=True)
    (bundle.cache_dir() / "downloaded.ckpt").write_bytes(path.read_bytes())
    with pytest.raises(CheckpointError, match="requested model"):
        pretrained.load(bundle.name)  # the tiny file is not the full-size release
    tiny = dataclasses.replace(bundle, name="tiny-lc", init_args=lc.read_checkpoint(path).init_args)
    monkeypatch.setitem(pretrained.BUNDLES, "tiny-lc", tiny)
    tiny.cache_dir().mkdir(parents=True)
    (tiny.cache_dir() / "whatever-name.ckpt").write_bytes(path.read_bytes())
    assert torch.equal(pretrained.load("tiny-lc").encode(wav), source.encode(wav))
    (tiny.cache_dir() / "second.ckpt").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="2 files match") as excinfo:
        pretrained.load("tiny-lc")
    assert "second.ckpt" in _one_line_error(excinfo)
