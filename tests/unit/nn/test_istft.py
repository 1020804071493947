"""ISTFT ("same" and "center") and the ISTFT head: inversion and output lengths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from audiokit.nn import ISTFT, ISTFTHead


def same_stft(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """STFT with "same" padding: reflect-pad (n_fft - hop) / 2 each side, no centring."""
    pad = (n_fft - hop) // 2
    padded = F.pad(x[:, None], (pad, pad), mode="reflect")[:, 0]
    return torch.stft(padded, n_fft, hop, window=torch.hann_window(n_fft), center=False, return_complex=True)


@pytest.mark.parametrize("n_fft, hop", [(64, 16), (80, 20), (48, 12)])
def test_same_istft_inverts_same_stft(n_fft, hop):
    torch.manual_seed(0)
    x = torch.randn(2, hop * 20)
    spec = same_stft(x, n_fft, hop)
    y = ISTFT(n_fft, hop, padding="same")(spec)
    assert y.shape == (2, spec.shape[-1] * hop) == x.shape
    assert torch.allclose(y, x, atol=1e-5)


def test_center_istft_matches_torch_round_trip():
    torch.manual_seed(0)
    x = torch.randn(2, 16 * 20)
    spec = torch.stft(x, 64, 16, window=torch.hann_window(64), center=True, return_complex=True)
    y = ISTFT(64, 16, padding="center")(spec)
    assert y.shape == (2, (spec.shape[-1] - 1) * 16)
    assert torch.allclose(y, x[:, : y.shape[-1]], atol=1e-5)


@pytest.mark.parametrize("padding, frames_to_len", [("same", lambda t: t * 20), ("center", lambda t: (t - 1) * 20)])
def test_head_shapes_and_names(padding, frames_to_len):
    head = ISTFTHead(16, 80, 20, padding)
    assert set(head.state_dict()) == {"out.weight", "out.bias", "istft.window"}
    assert head.out.out_features == 82
    assert head(torch.randn(3, 9, 16)).shape == (3, frames_to_len(9))


def test_head_clips_magnitude_at_100():
    head = ISTFTHead(4, 16, 4)
    with torch.no_grad():
        head.out.weight.zero_()
        head.out.bias.fill_(20.0)  # log-magnitude 20 -> clipped at 1e2
    spec = head.spectrogram(torch.zeros(1, 3, 4))
    assert spec.shape == (1, 9, 3)
    assert torch.allclose(spec.abs(), torch.full_like(spec.abs(), 100.0))


def test_bad_configurations_are_rejected():
    with pytest.raises(ValueError, match="padding"):
        ISTFT(64, 16, padding="valid")
    with pytest.raises(ValueError, match="hop_length"):
        ISTFT(16, 16, padding="same")
