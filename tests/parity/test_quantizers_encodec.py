"""Parity of audiokit's EMA residual quantizers with the PyPI ``encodec`` 0.1.1 reference.

The reference is built with small random codebooks, its state dict is loaded into
audiokit (checkpoint key forms: ``quantizer.vq.layers.{i}._codebook.*`` for EnCodec,
``feature_extractor.encodec.quantizer.vq.layers.0._codebook.*`` for WavTokenizer /
Language-Codec Lightning files), and codes, quantized latents, losses, gradients and EMA
buffers are compared on CPU in fp32.
"""

from __future__ import annotations

import warnings

import pytest
import torch

encodec = pytest.importorskip("encodec")  # listed in the [parity] extra
from encodec.quantization import ResidualVectorQuantizer  # noqa: E402

from audiokit.quantizers import ResidualVQ, VectorQuantizer  # noqa: E402

DIM, N_Q, BINS, FRAME_RATE = 16, 6, 32, 75


def _randomise_(quantizer: torch.nn.Module, seed: int = 0, dead_every: int = 0) -> None:
    """Give every EMA codebook random entries, positive EMA counts and ``inited = 1``."""
    gen = torch.Generator().manual_seed(seed)
    for name, buf in quantizer.named_buffers():
        if name.endswith("inited"):
            buf.fill_(1.0)
        elif name.endswith("cluster_size"):
            buf.copy_(torch.rand(buf.shape, generator=gen) * 10 + 2.5)
            if dead_every:
                buf[::dead_every] = 0.5  # below threshold 2: expired in training
        elif name.endswith("embed") or name.endswith("embed_avg"):
            buf.copy_(torch.randn(buf.shape, generator=gen))


def _pair(n_q: int = N_Q, dead_every: int = 0, **kwargs) -> tuple[ResidualVectorQuantizer, ResidualVQ]:
    ref = ResidualVectorQuantizer(dimension=DIM, n_q=n_q, bins=BINS, kmeans_init=False, **kwargs)
    _randomise_(ref, dead_every=dead_every)
    ours = ResidualVQ(DIM, n_q, BINS, kmeans_init=False, **kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def _latent(batch: int = 3, frames: int = 40, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, DIM, frames, generator=torch.Generator().manual_seed(seed))


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


@pytest.mark.parametrize("bandwidth", [None, 2 * 5 * FRAME_RATE / 1000])  # all layers, then 2 layers
def test_eval_codes_and_quantized_match(bandwidth):
    ref, ours = _pair()
    ref.eval(), ours.eval()
    x = _latent()
    n_q = ours.n_q_for_bandwidth(bandwidth, FRAME_RATE) if bandwidth else None
    with torch.no_grad():
        res = ref(x, sample_rate=FRAME_RATE, bandwidth=bandwidth)
        out = ours(x, n_q=n_q)
        ref_codes = ref.encode(x, FRAME_RATE, bandwidth)
        our_codes = ours.encode(x, n_q=n_q)
    assert out.codes.shape == (3, n_q or N_Q, 40)
    assert torch.equal(out.codes, res.codes.permute(1, 0, 2))
    assert torch.equal(our_codes, ref_codes.permute(1, 0, 2))
    assert _max_diff(out.quantized, res.quantized) <= 1e-4
    assert _max_diff(ours.decode(our_codes), ref.decode(ref_codes)) <= 1e-4
    assert float(out.loss) == 0.0 and float(res.penalty) == 0.0


@pytest.mark.parametrize("dead_every", [0, 4])
def test_one_training_step_matches(dead_every):
    ref, ours = _pair(dead_every=dead_every)
    ref.train(), ours.train()
    x_ref = _latent().requires_grad_(True)
    x_ours = x_ref.detach().clone().requires_grad_(True)
    torch.manual_seed(123)  # dead-code replacement draws rows from the batch
    res = ref(x_ref, sample_rate=FRAME_RATE)
    torch.manual_seed(123)
    out = ours(x_ours)
    assert torch.equal(out.codes, res.codes.permute(1, 0, 2))
    assert _max_diff(out.quantized, res.quantized) <= 1e-4
    assert abs(out.loss.item() - res.penalty.item()) <= 1e-5
    if dead_every:
        assert int(out.stats["dead_codes"]) > 0
    ref_buffers, our_buffers = ref.state_dict(), ours.state_dict()
    for key, value in ref_buffers.items():
        assert _max_diff(our_buffers[key], value) <= 1e-5, key
    (res.quantized.sum() + 3 * res.penalty).backward()
    (out.quantized.sum() + 3 * out.loss).backward()
    assert _max_diff(x_ours.grad, x_ref.grad) <= 1e-5


@pytest.mark.parametrize("frames", [40, 6])  # 120 rows >= 32 entries (randperm) and 18 < 32 (randint)
def test_kmeans_initialisation_matches(frames):
    ref = ResidualVectorQuantizer(dimension=DIM, n_q=1, bins=BINS, kmeans_init=True, kmeans_iters=4)
    ours = VectorQuantizer(DIM, BINS, kmeans_init=True, kmeans_iters=4)
    assert float(ours.layers[0].codebook.inited) == 0.0
    x = _latent(frames=frames, seed=5)
    ref.eval(), ours.eval()  # k-means runs on the first forward even in eval
    torch.manual_seed(7)
    res = ref(x, sample_rate=FRAME_RATE)
    torch.manual_seed(7)
    out = ours(x)
    for key, value in ref.state_dict().items():
        assert _max_diff(ours.state_dict()[key], value) <= 1e-5, key
    assert float(ours.layers[0].codebook.inited) == 1.0
    assert torch.equal(out.codes, res.codes.permute(1, 0, 2))


def test_encodec_24khz_checkpoint_keys_and_bandwidths():
    """EnCodec 24 kHz: 32 x 1024 x 128 codebooks under ``quantizer.``; 6 kbps = 8 codebooks."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model = encodec.EncodecModel.encodec_model_24khz(pretrained=False)
    _randomise_(model.quantizer)
    state = {k[len("quantizer."):]: v for k, v in model.state_dict().items() if k.startswith("quantizer.")}
    ours = ResidualVQ(128, 32, 1024)
    ours.load_state_dict(state, strict=True)
    model.eval(), ours.eval()
    assert [ours.n_q_for_bandwidth(bw, 75) for bw in (1.5, 3.0, 6.0, 12.0, 24.0)] == [2, 4, 8, 16, 32]
    x = torch.randn(2, 128, 30, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref_codes = model.quantizer.encode(x, 75, 6.0)
        codes = ours.encode(x, n_q=ours.n_q_for_bandwidth(6.0, 75))
        assert torch.equal(codes, ref_codes.permute(1, 0, 2))
        assert _max_diff(ours.decode(codes), model.quantizer.decode(ref_codes)) <= 1e-4


def test_lightning_checkpoint_layout_loads(tmp_path):
    """WavTokenizer-style file: ``state_dict`` with ``feature_extractor.encodec.quantizer.`` keys."""
    ref = ResidualVectorQuantizer(dimension=DIM, n_q=1, bins=BINS, kmeans_init=True, kmeans_iters=200)
    _randomise_(ref)
    prefix = "feature_extractor.encodec.quantizer."
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {prefix + k: v for k, v in ref.state_dict().items()}, "epoch": 3}, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    ours = VectorQuantizer(DIM, BINS, kmeans_iters=200)
    ours.load_state_dict({k[len(prefix):]: v for k, v in loaded.items() if k.startswith(prefix)}, strict=True)
    ref.eval(), ours.eval()
    x = _latent(seed=9)
    with torch.no_grad():
        res = ref(x, sample_rate=FRAME_RATE)
        out = ours(x)  # inited = 1 was loaded: no k-means here
    assert torch.equal(out.codes, res.codes.permute(1, 0, 2))
    assert _max_diff(out.quantized, res.quantized) <= 1e-4
