"""Front-end configuration, presets, frame counts and general behaviour of MelFrontend."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from audiokit.errors import AudioError, ConfigError
from audiokit.features import PRESETS, FrontendConfig, MelFrontend, get_preset


def noise(*shape: int, seed: int = 0, amp: float = 0.1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * amp


def test_config_module_does_not_import_torch():
    code = ("import sys, audiokit.features.config as c; c.get_preset('kaldi_fbank_80');"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_presets_are_named_and_unknown_names_or_options_are_config_errors():
    assert set(PRESETS) == {"vocos_mel_24k", "nemo_mel_80", "kaldi_fbank_80"}
    assert get_preset("nemo_mel_80").n_mels == 80
    assert get_preset("vocos_mel_24k", padding="same").padding == "same"
    with pytest.raises(ConfigError, match="unknown front-end preset 'nope'"):
        get_preset("nope")
    with pytest.raises(ConfigError, match="unknown front-end option"):
        get_preset("nemo_mel_80", n_mel=40)
    with pytest.raises(ConfigError, match="padding='middle'"):
        FrontendConfig(padding="middle")
    with pytest.raises(ConfigError, match="win_length"):
        FrontendConfig(n_fft=256, win_length=400)
    with pytest.raises(ConfigError, match="Nyquist"):
        FrontendConfig(sample_rate=16000, f_max=9000)


def _expected_frames(name: str, padding: str | None, t: int) -> int:
    """The documented rules, written out independently of the implementation."""
    if name == "kaldi_fbank_80":
        return 0 if t < 400 else (t - 400) // 160 + 1
    hop = 256 if name == "vocos_mel_24k" else 160
    if padding == "same":  # vocos: win 1024 = 4 * hop
        return t // hop
    return t // hop + 1


@pytest.mark.parametrize("name,padding", [("vocos_mel_24k", None), ("vocos_mel_24k", "same"),
                                          ("nemo_mel_80", None), ("kaldi_fbank_80", None)])
@pytest.mark.parametrize("t", [1025, 1280, 1535, 4000, 4001])
def test_frame_count_follows_the_documented_rule(name, padding, t):
    fe = MelFrontend(name, **({"padding": padding} if padding else {}))
    out = fe(noise(2, t))
    assert out.shape == (2, fe.n_mels, _expected_frames(name, padding, t))
    assert fe.num_frames(t) == out.shape[-1]
    assert fe.frame_lengths(torch.tensor([t, t - 1]))[0].item() == out.shape[-1]


def test_kaldi_short_signal_gives_zero_frames_and_nemo_empty_gives_one():
    assert MelFrontend("kaldi_fbank_80")(noise(3, 399)).shape == (3, 80, 0)
    assert MelFrontend("nemo_mel_80")(noise(1, 0)).shape == (1, 80, 1)


@pytest.mark.parametrize("name,padding,too_short", [("vocos_mel_24k", None, 512),
                                                    ("vocos_mel_24k", "same", 384)])
def test_reflect_padding_on_too_short_audio_is_an_audio_error(name, padding, too_short):
    fe = MelFrontend(name, **({"padding": padding} if padding else {}))
    with pytest.raises(AudioError, match="too short"):
        fe(noise(1, too_short))
    assert fe(noise(1, too_short + 1)).shape[-1] == fe.num_frames(too_short + 1)


def test_one_dimensional_input_gives_two_dimensional_output():
    fe = MelFrontend("nemo_mel_80").eval()
    x = noise(3000)
    torch.testing.assert_close(fe(x), fe(x[None])[0])


def test_batch_items_are_independent():
    fe = MelFrontend("kaldi_fbank_80")
    x = noise(3, 5000)
    batched = fe(x)
    for i in range(3):
        torch.testing.assert_close(batched[i], fe(x[i:i + 1])[0], atol=1e-5, rtol=0)


def test_buffers_are_not_saved_in_the_state_dict():
    assert MelFrontend("vocos_mel_24k").state_dict() == {}


def test_dither_only_in_training_mode():
    fe = MelFrontend("nemo_mel_80")
    x = noise(1, 4000)
    fe.eval()
    torch.testing.assert_close(fe(x), fe(x), atol=0, rtol=0)
    fe.train()
    assert not torch.equal(fe(x), fe(x))
    assert (fe(x) - fe.eval()(x)).abs().max() < 1.0  # small noise, same features


def test_per_feature_normalisation_uses_valid_frames_only():
    fe = MelFrontend("nemo_mel_80", normalize="per_feature").eval()
    x = noise(2, 8000)
    x[1, 4000:] = 0.0
    lengths = torch.tensor([8000, 4000])
    out = fe(x, lengths)
    valid = fe.frame_lengths(lengths)
    for b in range(2):
        part = out[b, :, : valid[b]]
        torch.testing.assert_close(part.mean(-1), torch.zeros(80), atol=1e-4, rtol=0)
        torch.testing.assert_close(part.std(-1), torch.ones(80), atol=1e-3, rtol=0)
        assert torch.all(out[b, :, valid[b]:] == 0)
    # NeMo's formula on the un-normalised features: unbiased std + 1e-5
    raw = MelFrontend("nemo_mel_80").eval()(x)[1, :, : valid[1]]
    want = (raw - raw.mean(-1, keepdim=True)) / (raw.std(-1, keepdim=True) + 1e-5)
    torch.testing.assert_close(out[1, :, : valid[1]], want, atol=1e-4, rtol=0)


def test_float64_input_is_computed_in_float64():
    fe = MelFrontend("kaldi_fbank_80")
    out = fe(noise(1, 2000).double())
    assert out.dtype == torch.float64
