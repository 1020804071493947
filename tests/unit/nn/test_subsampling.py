"""dw_striding subsampling: shapes, length rule, masking, causality, streaming cache."""

from __future__ import annotations

import pytest
import torch

from audiokit.nn.subsampling import DwStridingSubsampling


def length_rule(length, pad_total, times):
    for _ in range(times):
        length = (length + pad_total - 3) // 2 + 1
    return length


def test_nemo_key_names_and_out_shape():
    causal = DwStridingSubsampling(80, 512, factor=8, conv_channels=256, causal=True)
    keys = sorted(causal.state_dict())
    assert keys == sorted(f"{p}.{n}" for p in ["conv.0", "conv.2", "conv.3", "conv.5", "conv.6", "out"]
                          for n in ["weight", "bias"])
    assert causal.out.weight.shape == (512, 256 * 11)
    assert causal.conv[2].weight.shape == (256, 1, 3, 3)  # depthwise
    assert causal.conv[3].weight.shape == (256, 256, 1, 1)  # pointwise
    assert DwStridingSubsampling(80, 512, causal=False).out.weight.shape == (512, 256 * 10)
    assert len(DwStridingSubsampling(80, 16, factor=4, conv_channels=4).conv) == 5


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_lengths_rule_matches_outputs(causal, factor):
    sub = DwStridingSubsampling(12, 8, factor=factor, conv_channels=4, causal=causal).eval()
    pad = 3 if causal else 2
    times = factor.bit_length() - 1
    lengths = torch.arange(1, 40)
    expected = [length_rule(int(n), pad, times) for n in lengths]
    assert sub.output_lengths(lengths).tolist() == expected
    assert [sub.output_length(int(n)) for n in lengths] == expected
    for n in (1, 7, 8, 9, 16, 17, 39):
        y, y_len = sub(torch.randn(1, n, 12), torch.tensor([n]))
        assert y.shape == (1, expected[n - 1], 8)
        assert y_len.tolist() == [expected[n - 1]]
    # causal factor 8: 1 + 8k frames -> k + 1 outputs
    if causal and factor == 8:
        assert [sub.output_length(1 + 8 * k) for k in range(5)] == [1, 2, 3, 4, 5]


def test_bad_factor():
    for bad in (1, 3, 6):
        with pytest.raises(ValueError):
            DwStridingSubsampling(80, 16, factor=bad)


def test_causal_output_sees_no_future_frames():
    torch.manual_seed(0)
    sub = DwStridingSubsampling(10, 8, conv_channels=4).eval()
    x = torch.randn(1, 41, 10)
    x2 = x.clone()
    x2[:, 17:] = torch.randn(1, 24, 10)
    with torch.no_grad():
        y, _ = sub(x, torch.tensor([41]))
        y2, _ = sub(x2, torch.tensor([41]))
    # output g depends on frames 8g - 14 .. 8g: frames 0..2 only use x[:17]
    assert torch.equal(y[:, :3], y2[:, :3])
    assert not torch.allclose(y[:, 3], y2[:, 3])


@pytest.mark.parametrize("length", [15, 20, 26])
def test_masking_makes_padded_batches_match_single_runs(length):
    torch.manual_seed(1)
    masked = DwStridingSubsampling(10, 8, conv_channels=4, masked=True).eval()
    unmasked = DwStridingSubsampling(10, 8, conv_channels=4, masked=False).eval()
    unmasked.load_state_dict(masked.state_dict())
    x = torch.randn(2, 41, 10)
    lengths = torch.tensor([41, length])
    with torch.no_grad():
        single, n = masked(x[1:, :length], torch.tensor([length]))
        batch, lens = masked(x, lengths)
        loose, _ = unmasked(x, lengths)
    n = int(n)
    assert int(lens[1]) == n
    assert (batch[1, :n] - single[0]).abs().max() <= 1e-6
    # without masking, the padding leaks into the last valid frame (NeMo's older behaviour)
    assert not torch.allclose(loose[1, :n], single[0], atol=1e-6)


def run_chunks(sub, x, lengths, chunks):
    cache, outs, out_lens, start = sub.init_cache(x.shape[0], x.shape[2]), [], [], 0
    for n in chunks:
        part = x[:, start : start + n]
        part_len = (lengths - start).clamp(min=0, max=part.shape[1])
        y, y_len, cache = sub.forward_chunk(part, part_len, cache)
        assert cache.shape[1] <= sub.cache_size
        outs.append(y)
        out_lens.append(y_len)
        start += n
    return torch.cat(outs, 1), torch.stack(out_lens).sum(0)


@pytest.mark.parametrize("factor,first,later", [(8, 1, 8), (8, 9, 16), (8, 105, 112), (8, 17, 8), (4, 1, 4), (4, 5, 12), (2, 3, 2)])
def test_streaming_chunks_equal_offline(factor, first, later):
    torch.manual_seed(2)
    sub = DwStridingSubsampling(10, 8, factor=factor, conv_channels=4).eval()
    total = 150
    x = torch.randn(3, total, 10)
    lengths = torch.tensor([150, 97, 6])
    chunks = [first] + [later] * ((total - first) // later + 1)
    with torch.no_grad():
        full, full_len = sub(x, lengths)
        streamed, streamed_len = run_chunks(sub, x, lengths, chunks)
    assert streamed_len.tolist() == full_len.tolist()
    for b in range(3):
        n = int(full_len[b])
        assert (streamed[b, :n] - full[b, :n]).abs().max() <= 1e-5


def test_non_causal_cannot_stream():
    sub = DwStridingSubsampling(10, 8, conv_channels=4, causal=False)
    with pytest.raises(ValueError, match="non-causal"):
        sub.forward_chunk(torch.randn(1, 9, 10), torch.tensor([9]), sub.init_cache(1, 10))
