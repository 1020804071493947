"""Parity of audiokit discriminators and losses with vocos 0.1.0 and encodec 0.1.1.

The reference modules are built with random weights, their state dicts are saved to
disk with ``torch.save`` and loaded into audiokit with ``strict=True`` (same keys);
outputs are compared on CPU in fp32 (max abs diff <= 1e-4).
"""

from __future__ import annotations

import warnings

import pytest
import torch

import audiokit.discriminators as D

vocos_disc = pytest.importorskip("vocos.discriminators")
vocos_loss = pytest.importorskip("vocos.loss")
encodec_msstftd = pytest.importorskip("encodec.msstftd")

ATOL = 1e-4
SR = 24000


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # legacy weight_norm in the references
        torch.manual_seed(0)
        yield


def _audio(batch: int = 1, length: int = SR // 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    y = 0.5 * torch.randn(batch, length, generator=g)
    y_hat = y + 0.1 * torch.randn(batch, length, generator=g)
    return y, y_hat


def _transfer(ref: torch.nn.Module, ours: torch.nn.Module, tmp_path) -> None:
    path = tmp_path / "disc.pt"
    torch.save(ref.state_dict(), path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours.load_state_dict(state, strict=True)
    assert set(ours.state_dict()) == set(ref.state_dict())


def _randomize_embeddings(module: torch.nn.Module) -> None:
    for name, p in module.named_parameters():
        if name.endswith("emb.weight"):
            with torch.no_grad():
                p.normal_(0.0, 0.1)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= ATOL


def _compare_four(ref_out, ours_out) -> None:
    ref_rl, ref_fl, ref_rf, ref_ff = ref_out
    for ref_list, our_list in ((ref_rl, ours_out.real_logits), (ref_fl, ours_out.fake_logits)):
        assert len(ref_list) == len(our_list)
        for a, b in zip(ref_list, our_list):
            _close(a, b)
    for ref_maps, our_maps in ((ref_rf, ours_out.real_fmaps), (ref_ff, ours_out.fake_fmaps)):
        assert len(ref_maps) == len(our_maps)
        for ra, oa in zip(ref_maps, our_maps):
            assert len(ra) == len(oa)
            for a, b in zip(ra, oa):
                assert a.shape == b.shape
                _close(a, b)


@pytest.mark.parametrize(("num_embeddings", "length"), [(4, SR // 4), (None, SR // 4 + 1)])
def test_mpd_matches_vocos(tmp_path, num_embeddings, length):
    ref = vocos_disc.MultiPeriodDiscriminator(num_embeddings=num_embeddings).eval()
    _randomize_embeddings(ref)
    ours = D.MultiPeriodDiscriminator(num_embeddings=num_embeddings).eval()
    _transfer(ref, ours, tmp_path)
    y, y_hat = _audio(length=length)
    bw = torch.tensor([2]) if num_embeddings else None
    with torch.no_grad():
        _compare_four(ref(y, y_hat, bandwidth_id=bw), ours(y, y_hat, bw))


@pytest.mark.parametrize("num_embeddings", [4])
def test_multiband_mrd_matches_vocos(tmp_path, num_embeddings):
    ref = vocos_disc.MultiResolutionDiscriminator(num_embeddings=num_embeddings).eval()
    _randomize_embeddings(ref)
    ours = D.MultiBandDiscriminator(num_embeddings=num_embeddings).eval()
    _transfer(ref, ours, tmp_path)
    y, y_hat = _audio()
    bw = torch.tensor([1]) if num_embeddings else None
    with torch.no_grad():
        _compare_four(ref(y, y_hat, bandwidth_id=bw), ours(y, y_hat, bw))


@pytest.mark.parametrize("scales", [D.HIFICODEC_SCALES, ((1024, 256, 1024), (512, 128, 512))])
def test_msstftd_matches_encodec(tmp_path, scales):
    n_ffts, hops, wins = (list(t) for t in zip(*scales))
    ref = encodec_msstftd.MultiScaleSTFTDiscriminator(
        filters=32, n_ffts=n_ffts, hop_lengths=hops, win_lengths=wins
    ).eval()
    ours = D.MultiScaleSTFTDiscriminator(32, scales=scales).eval()
    _transfer(ref, ours, tmp_path)
    y, _ = _audio()
    y = y.unsqueeze(1)
    with torch.no_grad():
        ref_logits, ref_fmaps = ref(y)
        our_logits, our_fmaps = ours.score(y)
    assert len(ref_logits) == len(our_logits) == len(scales)
    for a, b in zip(ref_logits, our_logits):
        _close(a, b)
    for ra, oa in zip(ref_fmaps, our_fmaps):
        assert len(ra) == len(oa)
        for a, b in zip(ra, oa):
            assert a.shape == b.shape
            _close(a, b)


def _fake_outputs(n: int = 4) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(7)
    real = [1.5 * torch.randn(2, 30 + i, generator=g) for i in range(n)]
    fake = [1.5 * torch.randn(2, 30 + i, generator=g) for i in range(n)]
    return real, fake


def test_hinge_losses_match_vocos():
    real, fake = _fake_outputs()
    ref_total, ref_r, ref_g = vocos_loss.DiscriminatorLoss()(real, fake)
    total, r_terms, g_terms = D.DiscriminatorLoss("hinge")(real, fake)
    assert abs(ref_total.item() - total.item()) <= ATOL
    for a, b in zip(ref_r + ref_g, r_terms + g_terms):
        assert abs(a.item() - b.item()) <= ATOL
    ref_gen, ref_terms = vocos_loss.GeneratorLoss()(fake)
    gen, terms = D.GeneratorLoss("hinge")(fake)
    assert abs(ref_gen.item() - gen.item()) <= ATOL
    assert [round(t.item(), 5) for t in ref_terms] == [round(t.item(), 5) for t in terms]


def test_feature_matching_matches_vocos():
    g = torch.Generator().manual_seed(3)
    fr = [[torch.randn(2, 4, 9, generator=g) for _ in range(3)] for _ in range(2)]
    fg = [[torch.randn(2, 4, 9, generator=g) for _ in range(3)] for _ in range(2)]
    ref = vocos_loss.FeatureMatchingLoss()(fr, fg)
    ours = D.FeatureMatchingLoss()(fr, fg)
    assert abs(ref.item() - ours.item()) <= ATOL


@pytest.mark.parametrize("cfg", [{}, {"sample_rate": 16000, "n_fft": 512, "hop_length": 160, "n_mels": 80}])
def test_mel_loss_matches_vocos(cfg):
    y, y_hat = _audio()
    ref = vocos_loss.MelSpecReconstructionLoss(**cfg)(y_hat, y)
    ours = D.MelSpecReconstructionLoss(**cfg)(y_hat, y)
    assert abs(ref.item() - ours.item()) <= ATOL
    # also the log-mel itself, not only its L1
    ref_mel = torch.log(torch.clamp(vocos_loss.MelSpecReconstructionLoss(**cfg).mel_spec(y), min=1e-7))
    our_mel = D.MelSpecReconstructionLoss(**cfg).mels[0](y)
    assert (ref_mel - our_mel).abs().max().item() <= ATOL


def test_mel_loss_gradient_matches_vocos():
    y, y_hat = _audio(batch=1, length=4000)
    a = y_hat.clone().requires_grad_(True)
    b = y_hat.clone().requires_grad_(True)
    vocos_loss.MelSpecReconstructionLoss()(a, y).backward()
    D.MelSpecReconstructionLoss()(b, y).backward()
    assert (a.grad - b.grad).abs().max().item() <= ATOL
