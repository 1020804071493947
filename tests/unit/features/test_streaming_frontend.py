"""StreamingFrontend: chunked output concatenated == offline output, for every preset."""

from __future__ import annotations

import pytest
import torch

from audiokit.errors import AudioError, ConfigError
from audiokit.features import MelFrontend, StreamingFrontend

CASES = [("vocos_mel_24k", {}), ("vocos_mel_24k", {"padding": "same"}),
         ("nemo_mel_80", {}), ("kaldi_fbank_80", {}),
         ("nemo_mel_80", {"padding": "same", "pad_mode": "reflect"}),
         ("kaldi_fbank_80", {"padding": "center", "pad_mode": "constant"})]
IDS = ["vocos", "vocos-same", "nemo", "kaldi", "nemo-same-reflect", "kaldi-center-zeros"]


def noise(*shape: int, seed: int = 0, amp: float = 0.1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * amp


def stream(fe_or_stream, x: torch.Tensor, sizes) -> torch.Tensor:
    """Push ``x`` (B, T) in chunks of the given sizes (cycled), flush, concatenate."""
    st = fe_or_stream if isinstance(fe_or_stream, StreamingFrontend) else StreamingFrontend(fe_or_stream)
    outs, pos, i = [], 0, 0
    while pos < x.shape[-1]:
        n = sizes[i % len(sizes)]
        out = st.push(x[:, pos:pos + n])
        assert out.shape[:2] == (x.shape[0], st.config.n_mels)
        outs.append(out)
        pos, i = pos + n, i + 1
    outs.append(st.flush())
    return torch.cat(outs, dim=-1)


def random_sizes(seed: int, high: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    return [int(v) for v in torch.randint(0, high, (200,), generator=g)]


@pytest.mark.parametrize("name,over", CASES, ids=IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_chunks_reproduce_the_offline_frames(name, over, seed):
    fe = MelFrontend(name, **over).eval()
    g = torch.Generator().manual_seed(100 + seed)
    n = int(torch.randint(1100, 9000, (1,), generator=g))
    x = noise(2, n, seed=seed)
    offline = fe(x)
    online = stream(fe, x, random_sizes(seed, high=[50, 700, 3000][seed]))
    assert online.shape == offline.shape
    torch.testing.assert_close(online, offline, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,over", CASES, ids=IDS)
def test_one_sample_chunks_reproduce_the_offline_frames(name, over):
    fe = MelFrontend(name, **over).eval()
    x = noise(1, 1400, seed=7)
    online = stream(fe, x, [1])
    torch.testing.assert_close(online, fe(x), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,over", CASES, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 383, 384, 385, 399, 400, 401, 512, 513, 1024, 1025])
def test_short_signals_match_offline_including_errors(name, over, n):
    fe = MelFrontend(name, **over).eval()
    x = noise(2, n, seed=n)

    def online() -> torch.Tensor:
        st = StreamingFrontend(fe)
        return stream(st, x, [97]) if n else torch.cat([st.push(x), st.flush()], dim=-1)

    try:
        offline = fe(x)
    except AudioError:
        with pytest.raises(AudioError, match="too short"):
            online()
        return
    got = online()
    assert got.shape == offline.shape
    torch.testing.assert_close(got, offline, atol=1e-5, rtol=0)


def test_frames_are_emitted_as_soon_as_they_are_complete():
    fe = MelFrontend("kaldi_fbank_80")
    st = StreamingFrontend(fe)
    x = noise(1, 1000)
    assert st.push(x[:, :399]).shape[-1] == 0
    assert st.push(x[:, 399:400]).shape[-1] == 1  # first 25 ms window complete
    assert st.push(x[:, 400:560]).shape[-1] == 1
    assert st.push(x[:, 560:1000]).shape[-1] == 2  # frames ending at 720 and 880
    assert st.flush().shape[-1] == 0  # snip-edges: the tail never makes a frame


def test_reflect_start_waits_for_enough_samples():
    st = StreamingFrontend("vocos_mel_24k")
    x = noise(1, 2000)
    assert st.push(x[:, :512]).shape[-1] == 0  # left reflection needs 513 samples
    out = st.push(x[:, 512:1024])  # frames 0..2 need samples up to 512 + 512 * k
    assert out.shape[-1] == 3


def test_flush_resets_and_the_stream_can_be_reused():
    fe = MelFrontend("nemo_mel_80").eval()
    st = StreamingFrontend(fe)
    a, b = noise(1, 3000, seed=1), noise(1, 2000, seed=2)
    torch.testing.assert_close(stream(st, a, [333]), fe(a), atol=1e-5, rtol=0)
    torch.testing.assert_close(stream(st, b, [1000]), fe(b), atol=1e-5, rtol=0)


def test_reset_discards_a_half_fed_signal():
    fe = MelFrontend("vocos_mel_24k")
    st = StreamingFrontend(fe)
    st.push(noise(1, 1500, seed=3))
    st.reset()
    b = noise(2, 4000, seed=4)  # another batch size is fine after reset
    torch.testing.assert_close(stream(st, b, [640]), fe(b), atol=1e-5, rtol=0)


def test_failed_flush_leaves_a_fresh_stream():
    st = StreamingFrontend("vocos_mel_24k")
    st.push(noise(1, 100))
    with pytest.raises(AudioError, match="too short"):
        st.flush()
    x = noise(1, 3000, seed=5)
    torch.testing.assert_close(stream(st, x, [700]), MelFrontend("vocos_mel_24k")(x),
                               atol=1e-5, rtol=0)


def test_streaming_never_dithers():
    fe = MelFrontend("nemo_mel_80").train()
    x = noise(1, 4000)
    online = stream(fe, x, [500])
    torch.testing.assert_close(online, fe.eval()(x), atol=1e-5, rtol=0)


def test_misuse_is_refused():
    with pytest.raises(ConfigError, match="cannot stream"):
        StreamingFrontend("nemo_mel_80", normalize="per_feature")
    st = StreamingFrontend("kaldi_fbank_80")
    st.push(noise(2, 100))
    with pytest.raises(ValueError, match="batch"):
        st.push(noise(3, 100))
    with pytest.raises(ValueError):
        st.push(noise(1, 2, 3))
    assert StreamingFrontend("kaldi_fbank_80").flush().shape == (0, 80, 0)
