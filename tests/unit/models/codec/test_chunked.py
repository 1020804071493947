"""audiokit.models.codec.chunked: exact chunk concatenation, frame counts, border effects,
batching rules, fingerprints and the streamed audio reader/writer.

Border effect, measured here with a random-weight tiny WavTokenizer (hop 80, 1 s chunks =
300 frames; see ``test_border_effect_of_encoder`` / ``test_border_effect_of_decoder``):

* encoder: the first chunk's latents equal whole-file latents (to float rounding) except
  the last ~4 frames (right context of the non-causal convs); later chunks also differ in
  their first ~17 frames (the LSTM starts from a zero state). Codes differ in ~2.7 % of the
  frames, all but one within 14 frames of a border (the LSTM difference is small but can
  still flip a code ~50 frames on).
* decoder: every sample of a chunk changes (GroupNorm over time and global attention in
  pos_net), so chunked decoding is never equal to whole-file decoding; it is equal when the
  chunk holds the whole file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiokit.checkpoint import load_pretrained, save_pretrained
from audiokit.errors import AudioError
from audiokit.io.audio import load_audio
from audiokit.models.codec.base import Codec
from audiokit.models.codec.chunked import (
    chunk_samples,
    decode_chunked,
    encode_batch,
    encode_chunked,
    fit_length,
    read_blocks,
    rechunk,
    resample_blocks,
    write_blocks,
)
from audiokit.models.codec.wavtokenizer import WavTokenizer

SR = 24000
HOP = 80


def tiny_wavtokenizer(seed: int = 0) -> WavTokenizer:
    """A ~140 k-parameter WavTokenizer (hop 80) whose codebook holds real encoder latents.

    The entries are latents of noise (distinct rows: latents of periodic signals repeat, and
    tied entries would make codes flip with float rounding).
    """
    torch.manual_seed(seed)
    m = WavTokenizer(ratios=[5, 4, 4], dimension=16, n_filters=4, lstm=1, codebook_size=64,
                     backbone_dim=64, intermediate_dim=48, num_layers=1).eval()
    x = 0.2 * torch.randn(1, 1, SR)
    with torch.no_grad():
        feats = m.encoder(x)[0].T
    cb = m.quantizer.layers[0].codebook
    rows = feats[torch.randperm(feats.shape[0])[:64]]
    cb.embed.copy_(rows)
    cb.embed_avg.copy_(rows)
    cb.inited.fill_(1)
    return m


@pytest.fixture(scope="module")
def codec() -> WavTokenizer:
    torch.set_num_threads(1)
    return tiny_wavtokenizer()


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _whole(codec: Codec, x: np.ndarray) -> np.ndarray:
    return codec.encode(torch.from_numpy(x).view(1, 1, -1))[0].numpy()


# ----------------------------------------------------------------------------- chunk arithmetic
def test_chunk_samples_is_whole_frames(codec: WavTokenizer) -> None:
    assert chunk_samples(codec, 1.0) == SR
    assert chunk_samples(codec, 0.0101) == 3 * HOP  # 242.4 samples -> 3 frames
    assert chunk_samples(codec, 1e-6) == HOP  # at least one frame
    with pytest.raises(ValueError):
        chunk_samples(codec, 0)


def test_rechunk_and_fit_length() -> None:
    blocks = [np.arange(3), np.arange(3, 10), np.arange(10, 11)]
    out = list(rechunk(blocks, 4))
    assert [b.tolist() for b in out] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert np.concatenate(list(fit_length(blocks, 5))).tolist() == [0, 1, 2, 3, 4]
    padded = np.concatenate(list(fit_length(blocks, 13)))
    assert padded.tolist() == list(range(11)) + [0, 0]


# ----------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("n", [3 * SR, 3 * SR + 1, 3 * SR - 7, 2 * SR + HOP, 61])
def test_chunked_codes_are_concatenated_chunk_encodes(codec: WavTokenizer, n: int) -> None:
    x = _signal(n)
    c = SR  # 1 s = 300 frames
    codes, total = encode_chunked(codec, [x], chunk=c)
    assert total == n
    assert codes.shape == (1, codec.num_frames(n))
    expected = np.concatenate([_whole(codec, x[s:s + c]) for s in range(0, n, c)], axis=1)
    np.testing.assert_array_equal(codes, expected)


def test_chunked_codes_do_not_depend_on_read_blocks(codec: WavTokenizer) -> None:
    x = _signal(2 * SR + 555)
    a, _ = encode_chunked(codec, [x], chunk=SR)
    pieces = np.split(x, [1, 1000, 30001, 30002, 47000])
    b, _ = encode_chunked(codec, pieces, chunk=SR)
    np.testing.assert_array_equal(a, b)


def test_one_chunk_equals_whole_file(codec: WavTokenizer) -> None:
    x = _signal(SR + 17)
    codes, _ = encode_chunked(codec, [x], chunk=chunk_samples(codec, 30))
    np.testing.assert_array_equal(codes, _whole(codec, x))


def test_chunk_must_be_hop_multiple(codec: WavTokenizer) -> None:
    with pytest.raises(ValueError, match="multiple of hop_length"):
        encode_chunked(codec, [_signal(1000)], chunk=HOP + 1)


def test_decode_chunked_concatenates_chunk_decodes(codec: WavTokenizer) -> None:
    codes = _whole(codec, _signal(2 * SR + 400))
    out = list(decode_chunked(codec, codes, chunk_frames=300))
    assert [len(o) for o in out] == [SR, SR, 400]
    for k, o in enumerate(out):
        ref = codec.decode(torch.from_numpy(codes[None, :, k * 300:(k + 1) * 300]))[0, 0].numpy()
        np.testing.assert_array_equal(o, ref)
    whole = codec.decode(torch.from_numpy(codes[None]))[0, 0].numpy()
    one = np.concatenate(list(decode_chunked(codec, codes, chunk_frames=10_000)))
    np.testing.assert_allclose(one, whole, atol=1e-6)


# ----------------------------------------------------------------------------- border effect
def test_border_effect_of_encoder(codec: WavTokenizer) -> None:
    x = torch.from_numpy(_signal(3 * SR)).view(1, 1, -1)
    with torch.no_grad():
        whole = codec.encoder(x)[0]
        scale = whole.abs().max()
        diffs = [(whole[:, k * 300:(k + 1) * 300] - codec.encoder(x[..., k * SR:(k + 1) * SR])[0]).abs().max(0).values
                 / scale for k in range(3)]
    # first chunk: identical except where the convs see past its right border
    assert diffs[0][:-8].max() < 1e-5
    assert diffs[0][-4:].min() > 1e-4
    # a middle chunk: both borders are affected, the middle is not
    assert diffs[1][:4].min() > 1e-4 and diffs[1][-4:].min() > 1e-4
    assert diffs[1][60:-8].max() < 1e-5
    # the last chunk ends with the file: only its left border (LSTM restart) differs
    assert diffs[2][:4].min() > 1e-4 and diffs[2][60:].max() < 1e-5
    codes, _ = encode_chunked(codec, [x.view(-1).numpy()], chunk=SR)
    changed = (codes != _whole(codec, x.view(-1).numpy())).mean()
    assert 0 < changed < 0.1  # measured 0.027 with this codebook
    np.testing.assert_array_equal(codes[:, :290], _whole(codec, x.view(-1).numpy())[:, :290])


def test_border_effect_of_decoder(codec: WavTokenizer) -> None:
    codes = _whole(codec, _signal(3 * SR))
    whole = codec.decode(torch.from_numpy(codes[None]))[0, 0].numpy()
    chunked = np.concatenate(list(decode_chunked(codec, codes, chunk_frames=300)))
    assert chunked.shape == whole.shape
    middle = np.abs(chunked - whole)[SR + SR // 2 - 2000:SR + SR // 2 + 2000]
    assert middle.max() > 1e-3  # GroupNorm/attention over time: even mid-chunk samples change


# ----------------------------------------------------------------------------- batches
def test_equal_length_batch_matches_single(codec: WavTokenizer) -> None:
    xs = [_signal(SR // 2, seed=s) for s in range(3)]
    batched = encode_batch(codec, xs)
    for x, c in zip(xs, batched):
        np.testing.assert_array_equal(c, _whole(codec, x))


def test_non_invariant_codec_refuses_padding(codec: WavTokenizer) -> None:
    assert not getattr(codec, "batch_invariant", False)
    with pytest.raises(ValueError, match="not batch-invariant"):
        encode_batch(codec, [_signal(1000), _signal(1200)])


class FrameCodec(Codec):
    """A batch-invariant toy codec: one code per hop = quantised frame mean."""

    name = "frames"
    batch_invariant = True

    def __init__(self) -> None:
        super().__init__()
        self.init_args = {}
        self.sample_rate, self.hop_length, self.n_codebooks, self.codebook_size = 8000, 4, 1, 16

    def num_frames(self, n_samples: int) -> int:
        return -(-n_samples // self.hop_length)

    def _encode(self, wav: torch.Tensor, n_q: int) -> torch.Tensor:
        pad = self.num_frames(wav.shape[-1]) * self.hop_length - wav.shape[-1]
        frames = torch.nn.functional.pad(wav, (0, pad)).view(wav.shape[0], 1, -1, self.hop_length)
        return (frames.mean(-1) * 7 + 8).round().clamp(0, 15).long()


def test_invariant_codec_pads_and_cuts_back() -> None:
    c = FrameCodec()
    xs = [_signal(n, seed=n) for n in (10, 37, 40)]
    for x, codes in zip(xs, encode_batch(c, xs)):
        assert codes.shape == (1, c.num_frames(len(x)))
        np.testing.assert_array_equal(codes, _whole(c, x))


# ----------------------------------------------------------------------------- fingerprint
def test_fingerprint_covers_weights_and_config(codec: WavTokenizer, tmp_path: Path) -> None:
    fp = codec.fingerprint()
    assert fp == codec.fingerprint() and len(fp) == 16
    cfg = {"model": {"class_path": "audiokit.models.codec.wavtokenizer.WavTokenizer", "init_args": codec.init_args}}
    assert load_pretrained(save_pretrained(codec, cfg, tmp_path / "m")).fingerprint() == fp
    other = tiny_wavtokenizer(seed=1)  # same config, other weights
    assert other.config_hash() == codec.config_hash()
    assert other.fingerprint() != fp
    w = next(other.parameters())
    before = other.fingerprint()
    with torch.no_grad():
        w.add_(1e-3)  # in place: the cache must notice
    assert other.fingerprint() != before


# ----------------------------------------------------------------------------- audio streams
@pytest.mark.parametrize("sr", [44100, 16000, SR])
def test_read_blocks_equals_load_audio(tmp_path: Path, sr: int) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "x.wav"
    sf.write(path, 0.3 * rng.standard_normal((sr + 123, 2)), sr)
    blocks = read_blocks(path, SR, block=1000)
    got = np.concatenate(list(blocks))
    ref, _ = load_audio(path, sr=SR)
    assert blocks.frames_read == sr + 123
    np.testing.assert_array_equal(got, ref)


def test_read_blocks_refuses_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "e.wav"
    sf.write(path, np.zeros(0), SR)
    with pytest.raises(AudioError, match="e.wav: contains no audio"):
        list(read_blocks(path, SR))


def test_resample_blocks_streams(tmp_path: Path) -> None:
    x = _signal(SR)
    out = np.concatenate(list(resample_blocks(np.split(x, [100, 5000]), SR, 16000)))
    assert abs(len(out) - 16000) <= 1


def test_write_blocks_clips_counts_and_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "y.flac"
    n, clipped, peak = write_blocks(path, [np.array([0.5, 1.5, -2.0], np.float32), np.zeros(5, np.float32)], SR)
    assert (n, clipped, peak) == (8, 2, 2.0)
    data, sr = sf.read(path)
    assert sr == SR and len(data) == 8 and np.abs(data).max() <= 1.0

    def broken():
        yield np.zeros(100, np.float32)
        raise AudioError("boom")

    with pytest.raises(AudioError):
        write_blocks(tmp_path / "z.wav", broken(), SR)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.flac"]
    with pytest.raises(Exception, match="exists"):
        write_blocks(path, [np.zeros(3, np.float32)], SR)
