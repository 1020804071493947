"""Padding, band and chunked limited-context masks (True = may attend)."""

from __future__ import annotations

import pytest
import torch

from audiokit.nn.masks import (
    attention_mask,
    causal_mask,
    check_streamable,
    chunked_limited_mask,
    context_mask,
    regular_mask,
    valid_mask,
    window_valid_mask,
)


def naive_chunked(size, left, right):
    out = torch.zeros(size, size, dtype=torch.bool)
    for i in range(size):
        for j in range(size):
            if right < 0:
                out[i, j] = j <= i and (left < 0 or i - j <= left) or j > i
            else:
                c = right + 1
                d = i // c - j // c
                out[i, j] = d >= 0 and (left < 0 or d <= left // c)
    return out


def test_valid_mask_marks_the_first_length_steps():
    m = valid_mask(torch.tensor([3, 0, 5]), 5)
    assert m.tolist() == [[1, 1, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]]
    assert valid_mask(torch.tensor([2, 4])).shape == (2, 4)


def test_chunked_limited_small_example():
    # [2, 1]: chunks of 2 frames, 1 chunk of left context
    m = chunked_limited_mask(6, 2, 1).int().tolist()
    assert m == [
        [1, 1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 0],
        [0, 0, 1, 1, 1, 1],
        [0, 0, 1, 1, 1, 1],
    ]


@pytest.mark.parametrize("left,right", [(70, 13), (70, 6), (70, 1), (70, 0), (4, 1), (6, 2), (-1, 3), (5, -1), (0, 2)])
def test_chunked_limited_matches_definition(left, right):
    assert torch.equal(chunked_limited_mask(37, left, right), naive_chunked(37, left, right))


@pytest.mark.parametrize("left,right", [(3, 0), (2, 2), (-1, 1), (4, -1), (0, 0)])
def test_regular_band(left, right):
    m = regular_mask(12, left, right)
    for i in range(12):
        for j in range(12):
            ok = (left < 0 or j >= i - left) and (right < 0 or j <= i + right)
            assert bool(m[i, j]) == ok


def test_chunked_with_no_look_ahead_is_a_causal_band_and_causal_mask():
    assert torch.equal(chunked_limited_mask(20, 5, 0), regular_mask(20, 5, 0))
    assert torch.equal(chunked_limited_mask(9, -1, 0), causal_mask(9))


def test_context_mask_dispatch_and_errors():
    assert context_mask(8, [-1, -1]) is None
    assert torch.equal(context_mask(8, [4, 1]), chunked_limited_mask(8, 4, 1))
    assert torch.equal(context_mask(8, [4, 1], "regular"), regular_mask(8, 4, 1))
    with pytest.raises(ValueError, match="style"):
        context_mask(8, [4, 1], "diagonal")


def test_attention_mask_blocks_padded_queries_and_keys():
    valid = valid_mask(torch.tensor([4, 2]), 4)
    m = attention_mask(valid, causal_mask(4))
    assert m.shape == (2, 4, 4)
    assert torch.equal(m[0], causal_mask(4))
    assert m[1].int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_window_valid_mask_right_aligns_the_cache():
    m = window_valid_mask(torch.tensor([2, 1]), torch.tensor([1, 3]), cache_size=3, chunk_len=2)
    assert m.int().tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]]


def test_check_streamable():
    assert check_streamable([70, 13]) == 14
    assert check_streamable([70, 0]) == 1
    assert check_streamable([0, 3]) == 4
    assert check_streamable([5, 0], "regular") == 1
    for bad in ([70, 12], [-1, 1], [4, -1]):
        with pytest.raises(ValueError):
            check_streamable(bad)
    with pytest.raises(ValueError, match="regular"):
        check_streamable([4, 1], "regular")
