"""StreamingASR: exact streaming at the model level (raw audio chunks -> streaming front-end ->
cached encoder -> carried greedy search) against the offline path, and the user-facing API."""

from __future__ import annotations

import itertools

import pytest
import torch

from audiokit.errors import AudioError, ConfigError
from audiokit.models.asr import StreamingASR
from audiokit.text import CharTokenizer

TOL = 1e-5
CONTEXTS = [[8, 3], [8, 1], [8, 0]]  # look-ahead 3 (chunk 4), 1 (chunk 2), 0 (fully causal)
LENGTHS = [16000, 9001, 2000]  # the last one is shorter than the first encoder chunk at [8, 3]


def make_model(decoder_type: str = "hybrid", seed: int = 0, vocab: int = 12) -> StreamingASR:
    torch.manual_seed(seed)
    enc = dict(d_model=32, n_layers=2, n_heads=4, ff_expansion=2, conv_kernel_size=5,
               subsampling_conv_channels=8, att_context_size=CONTEXTS)
    model = StreamingASR(vocab, enc, decoder_type, pred_hidden=16, joint_hidden=16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.add_(torch.randn_like(p) * 0.2)
    model.eval()
    if model.ctc_decoder is not None:  # centre the random CTC head so that its argmax follows the input
        w = waves(seed=99)[0][None]
        with torch.no_grad():
            mean = model.encode(w, torch.tensor([w.shape[1]]))[0][0].mean(0)
            conv = model.ctc_decoder.decoder_layers[0]
            conv.weight.mul_(3.0)
            conv.bias.copy_(-conv.weight[:, :, 0] @ mean)
    return model


def waves(seed: int = 5) -> list[torch.Tensor]:
    """Tone bursts of random pitch and level every 0.1 s, plus noise (non-stationary input)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in LENGTHS:
        seg = torch.arange(n) // 1600
        freq = 100 + 3000 * torch.rand(int(seg.max()) + 1, generator=g)
        amp = torch.rand(int(seg.max()) + 1, generator=g)
        t = torch.arange(n) / 16000
        out.append(amp[seg] * torch.sin(2 * torch.pi * freq[seg] * t) + 0.02 * torch.randn(n, generator=g))
    return out


def padded(wavs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(w) for w in wavs])
    batch = torch.zeros(len(wavs), int(lens.max()))
    for b, w in enumerate(wavs):
        batch[b, : len(w)] = w
    return batch, lens


def feed(model: StreamingASR, wavs: list[torch.Tensor], sizes: list[int], state, on_step):
    """Push the streams chunk by chunk (cycling through ``sizes``); each stream is marked final
    with its last samples. ``on_step(chunk, lengths, final, state)`` does the work."""
    batch, lens = padded(wavs)
    pos, i, ended = 0, 0, [False] * len(wavs)
    while not all(ended):
        n = sizes[i % len(sizes)]
        part = batch[:, pos:pos + n]
        counts = [0 if ended[b] else max(0, min(n, int(lens[b]) - pos)) for b in range(len(wavs))]
        final = [not ended[b] and pos + n >= int(lens[b]) for b in range(len(wavs))]
        state = on_step(part, counts, final, state)
        ended = [e or f for e, f in zip(ended, final)]
        pos, i = pos + n, i + 1
    return state


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("sizes", [[160, 1, 3333, 17], [40000]])
def test_streamed_encoder_equals_offline(context, sizes):
    model = make_model()
    wavs = waves()
    batch, lens = padded(wavs)
    with torch.no_grad():
        full, full_lens = model.encode(batch, lens, att_context_size=context)
    outs: list[list[torch.Tensor]] = [[] for _ in wavs]
    first: list[int] = []

    def on_step(part, counts, final, state):
        frames, state = model.encoder.stream(part, state, counts, final)
        for b, f in enumerate(frames):
            outs[b].append(f)
        if state.steps and not first:
            first.append(sum(f.shape[0] for f in frames))
        return state

    state = feed(model, wavs, sizes, model.encoder.init_stream(len(wavs), context), on_step)
    assert state.finished
    assert first  # the first encoder step (1 + 8R frames, no pre-encode cache) happened
    for b, n in enumerate(full_lens.tolist()):
        streamed = torch.cat(outs[b])
        assert streamed.shape[0] == n > 0
        assert (streamed - full[b, :n]).abs().max().item() <= TOL


@pytest.mark.parametrize("decoder", ["rnnt", "ctc"])
@pytest.mark.parametrize("context", [[8, 3], [8, 0]])
def test_streamed_greedy_equals_offline(decoder, context):
    model = make_model(seed=1)
    wavs = waves(seed=2)
    offline = model.transcribe_ids(wavs, decoder=decoder, att_context_size=context)
    assert any(len(h) > 3 for h in offline)
    partials: list[list[list[int]]] = []

    def on_step(part, counts, final, state):
        ids, state = model.step_ids(part, state, counts, final)
        partials.append(ids)
        return state

    state = feed(model, wavs, [2741, 333], model.init_state(len(wavs), decoder, context), on_step)
    assert state.tokens == offline
    for before, after in itertools.pairwise(partials):  # greedy partials only grow
        assert all(a[: len(b)] == b for a, b in zip(after, before))


def test_padded_batch_equals_one_by_one():
    model = make_model(seed=3)
    wavs = waves()
    batch, lens = padded(wavs)
    with torch.no_grad():
        enc, enc_lens = model.encode(batch, lens)
        for b, w in enumerate(wavs):
            one, n = model.encode(w[None], torch.tensor([len(w)]))
            assert int(n[0]) == int(enc_lens[b]) == model.encoder.pre_encode.output_length(len(w) // 160)
            assert (one[0] - enc[b, : int(n[0])]).abs().max().item() <= TOL


def test_text_api_latency_choice_and_errors():
    model = make_model(vocab=5)
    with pytest.raises(ConfigError, match="tokenizer"):
        model.transcribe(waves()[:1])
    with pytest.raises(ConfigError, match="tokens"):
        model.set_tokenizer(CharTokenizer(list("abc")))
    model.set_tokenizer(CharTokenizer(list("abcd ")))
    texts = model.transcribe(waves())
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    state = model.init_state(1)
    partial, state = model.step(waves()[0][None, :8000], state)
    final, state = model.step(waves()[0][None, 8000:], state, final=True)
    assert final == [texts[0]] and texts[0].startswith(partial[0])
    with pytest.raises(ValueError, match="ended"):
        model.step(waves()[0][None, :10], state)
    assert model.encoder.att_context_size == [8, 3]
    model.encoder.set_default_att_context_size([8, 0])
    assert model.transcribe_ids(waves()) == model.transcribe_ids(waves(), att_context_size=[8, 0])
    with pytest.raises(ConfigError, match="att_context_size"):
        model.encoder.set_default_att_context_size([8, 2])
    with pytest.raises(ConfigError, match="decoder"):
        make_model("rnnt").transcribe_ids(waves(), decoder="ctc")
    with pytest.raises(AudioError, match="mono"):
        model.transcribe_ids([torch.zeros(2, 100)])
    with pytest.raises(AudioError, match="empty"):
        model.transcribe_ids([torch.zeros(0)])
    with pytest.raises(ConfigError, match="decoder_type"):
        StreamingASR(5, {"d_model": 32, "n_layers": 1, "n_heads": 4}, "attention")
    with pytest.raises(ConfigError, match="encoder"):
        StreamingASR(5, {"d_model": 32, "n_layers": 1, "n_heads": 4, "no_such_option": 1})
