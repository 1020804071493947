"""Cache-aware streaming: chunk-by-chunk encoder output == offline output under the same context.

fp32, max abs diff <= 1e-5, for several [left, right] settings (odd chunk sizes, fully causal),
the first-chunk special case, a batch of streams of different lengths (one shorter than the first
chunk), several attention chunks per step, and a final partial chunk.
"""

from __future__ import annotations

import pytest
import torch

from audiokit.nn.conformer import ConformerCache, ConformerEncoder

TOL = 1e-5
LENGTHS = [203, 150, 61, 4]


def make_encoder(context, conv_norm="layer_norm", seed=0, **kw):
    torch.manual_seed(seed)
    enc = ConformerEncoder(12, 32, 3, 4, ff_expansion=2, conv_kernel_size=5, conv_norm=conv_norm,
                           subsampling_conv_channels=6, att_context_size=context, **kw)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for name, p in enc.named_parameters():
            offset = 1.0 if "norm" in name and name.endswith("weight") else 0.0
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + offset)
        for name, b in enc.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
    return enc.eval()


def stream(enc, x, lengths, context=None, chunks_per_step=1):
    """Feed ``x (B, T, F)`` step by step; returns concatenated outputs and lengths per stream."""
    first, later = enc.streaming_chunk_frames(context)
    sizes = [first + later * (chunks_per_step - 1), later * chunks_per_step]
    cache = enc.init_cache(x.shape[0], context)
    outs, out_lens, start, step = [], [], 0, 0
    while start < x.shape[1]:
        n = sizes[0] if step == 0 else sizes[1]
        part = x[:, start : start + n]
        part_len = (lengths - start).clamp(min=0, max=part.shape[1])
        y, y_len, cache = enc.forward_chunk(part, part_len, cache, att_context_size=context)
        assert isinstance(cache, ConformerCache)
        outs.append(y)
        out_lens.append(y_len)
        start, step = start + n, step + 1
    return torch.cat(outs, 1), torch.stack(out_lens).sum(0), cache


def max_diff(enc, context=None, chunks_per_step=1, conv_norm=None):
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(len(LENGTHS), max(LENGTHS), 12, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        full, full_len = enc(x, lengths, att_context_size=context)
        streamed, streamed_len, _ = stream(enc, x, lengths, context, chunks_per_step)
    assert streamed_len.tolist() == full_len.tolist()
    assert full_len.tolist() == [enc.pre_encode.output_length(n) for n in LENGTHS]
    return max((streamed[b, :n] - full[b, :n]).abs().max().item() for b, n in enumerate(full_len.tolist()))


@pytest.mark.parametrize("context", [[6, 2], [4, 0], [4, 1], [8, 3], [14, 6], [10, 4], [0, 2]])
def test_streaming_equals_offline(context):
    enc = make_encoder(context)
    assert max_diff(enc) <= TOL


@pytest.mark.parametrize("context", [[6, 2], [4, 1]])
def test_several_chunks_per_step(context):
    assert max_diff(make_encoder(context), chunks_per_step=2) <= TOL


def test_batch_norm_conv_and_multi_lookahead_contexts():
    contexts = [[12, 3], [12, 2], [12, 1], [12, 0]]
    enc = make_encoder(contexts, conv_norm="batch_norm", seed=1)
    for context in contexts:
        assert max_diff(enc, context) <= TOL


def test_single_stream_first_chunk_only():
    enc = make_encoder([8, 3])
    first, _ = enc.streaming_chunk_frames()
    assert (first, enc.streaming_chunk_frames()[1]) == (25, 32)
    x = torch.randn(1, first, 12)
    with torch.no_grad():
        full, _ = enc(x, torch.tensor([first]))
        y, y_len, cache = enc.forward_chunk(x, torch.tensor([first]), enc.init_cache(1))
    assert y.shape[1] == 4 == int(y_len[0])
    assert (y - full).abs().max() <= TOL
    assert cache.last_channel_len.tolist() == [4]
    assert cache.last_channel.shape == (3, 1, 8, 32) and cache.last_time.shape == (3, 1, 32, 4)
    assert cache.pre_encode.shape == (1, 9, 12)


def test_streaming_test_is_sensitive():
    """The comparison can fail: other contexts or a lost cache give different outputs."""
    enc = make_encoder([6, 2])
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(len(LENGTHS), max(LENGTHS), 12, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        streamed, _, _ = stream(enc, x, lengths)
        unlimited, _ = enc(x, lengths, att_context_size=[-1, -1])
        other, _ = enc(x, lengths, att_context_size=[3, 2])
        first, later = enc.streaming_chunk_frames()
        y0, _, cache = enc.forward_chunk(x[:, :first], lengths.clamp(max=first), enc.init_cache(4))
        fresh = enc.init_cache(4)
        fresh.pre_encode = cache.pre_encode  # keep the subsampling cache, drop the layer caches
        y1, _, _ = enc.forward_chunk(x[:, first : first + later], (lengths - first).clamp(0, later), fresh)
    n = int(enc.pre_encode.output_length(LENGTHS[0]))
    assert (streamed[0, :n] - unlimited[0, :n]).abs().max() > 1e-3
    assert (streamed[0, :n] - other[0, :n]).abs().max() > 1e-3
    assert (y1[0] - streamed[0, y0.shape[1] : y0.shape[1] + y1.shape[1]]).abs().max() > 1e-3


def test_stream_end_and_cache_errors():
    enc = make_encoder([4, 1])
    cache = enc.init_cache(2)
    with torch.no_grad():
        y, y_len, cache = enc.forward_chunk(torch.randn(2, 9, 12), torch.tensor([9, 9]), cache)
        # a step with no new valid frames produces nothing
        y, y_len, _ = enc.forward_chunk(torch.zeros(2, 0, 12), torch.tensor([0, 0]), cache)
    assert y.shape == (2, 0, 32) and y_len.tolist() == [0, 0]
    with pytest.raises(ValueError, match="cache holds"):
        enc.forward_chunk(torch.randn(2, 16, 12), torch.tensor([16, 16]), cache, att_context_size=[6, 1])
    with pytest.raises(ValueError):
        enc.init_cache(1, [-1, 1])
    with pytest.raises(ValueError, match="causal"):
        ConformerEncoder(12, 16, 1, 2, causal_subsampling=False, att_context_size=[4, 1]).init_cache(1)
