"""Parity: audiokit VocosVocoder vs ``vocos`` 0.1.0 (random weights, released folder layout).

A Vocos mel model is built by the reference from a ``config.yaml`` written like
``charactr/vocos-mel-24khz``'s (smaller widths), its weights perturbed and saved as
``pytorch_model.bin`` (full state dict: ``feature_extractor.*``, ``backbone.*``, ``head.*``);
audiokit loads the folder with :meth:`VocosVocoder.from_official` and must agree on the mel
features and the decoded waveform (fp32 CPU, max abs diff <= 1e-4).
"""

from __future__ import annotations

import pytest
import torch
import yaml
from vocos.pretrained import Vocos

from audiokit.errors import CheckpointError, ConfigError
from audiokit.models.tts import VocosVocoder

TOL = 1e-4
CONFIG = {
    "feature_extractor": {"class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
                          "init_args": {"sample_rate": 24000, "n_fft": 1024, "hop_length": 256, "n_mels": 100,
                                        "padding": "center"}},
    "backbone": {"class_path": "vocos.models.VocosBackbone",
                 "init_args": {"input_channels": 100, "dim": 64, "intermediate_dim": 192, "num_layers": 2}},
    "head": {"class_path": "vocos.heads.ISTFTHead",
             "init_args": {"dim": 64, "n_fft": 1024, "hop_length": 256, "padding": "center"}},
}


@pytest.fixture()
def released(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    ref = Vocos.from_hparams(str(tmp_path / "config.yaml"))
    torch.manual_seed(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    torch.save(ref.state_dict(), tmp_path / "pytorch_model.bin")
    return tmp_path, ref.eval()


def test_decode_and_features_match(released):
    folder, ref = released
    ours = VocosVocoder.from_official(folder)
    wav = 0.3 * torch.randn(2, 24000)
    mel_ref = ref.feature_extractor(wav)
    assert (ours.features(wav) - mel_ref).abs().max() <= TOL
    with torch.no_grad():
        want = ref.decode(mel_ref)
    got = ours.decode(mel_ref)
    assert got.shape == want.shape == (2, (mel_ref.shape[-1] - 1) * 256)
    assert (got - want).abs().max() <= TOL


def test_release_config_args():
    import pathlib
    import tempfile

    from audiokit.models.tts.vocoder import official_args

    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "config.yaml"
        bad = {**CONFIG, "backbone": {"init_args": {**CONFIG["backbone"]["init_args"], "dim": "big"}}}
        p.write_text(yaml.safe_dump(bad), encoding="utf-8")
        with pytest.raises(ConfigError, match="backbone.dim"):
            official_args(p)
        with pytest.raises(ConfigError, match="no such file"):
            official_args(pathlib.Path(d) / "missing.yaml")


def test_wrong_weights_one_line_error(released):
    folder, _ = released
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    state.pop("head.out.bias")
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as err:
        VocosVocoder.from_official(folder)
    assert "head.out.bias" in str(err.value) and "\n" not in str(err.value)
