"""F5-TTS model: text embedding, CFM loss, sampling, synthesize, vocabulary."""

from __future__ import annotations

import torch

from audiokit.models.tts import F5TTS, F5Vocab, text_to_tokens
from audiokit.models.tts.f5tts import pad_text

ARGS = dict(dim=32, depth=2, heads=4, mel_dim=20, vocab_size=12, text_dim=16, conv_layers=1, dropout=0.0)


def tiny(seed: int = 0, **kw) -> F5TTS:
    torch.manual_seed(seed)
    model = F5TTS(**{**ARGS, **kw})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def test_text_embedding_filler_masking():
    model = tiny()
    text = torch.tensor([[1, 2, 3, -1, -1]])
    emb = model.transformer.embed_text(text, 8)
    assert emb.shape == (1, 8, 16)
    assert torch.equal(emb[0, 3:], torch.zeros(5, 16))  # v1: filler frames are zero
    v0 = tiny(text_mask_padding=False).transformer.embed_text(text, 8)
    assert v0[0, 3:].abs().sum() > 0
    dropped = model.transformer.embed_text(text, 8, drop_text=True)
    assert not torch.allclose(dropped[0, :3], emb[0, :3]) and torch.equal(dropped[0, 3:], emb[0, 3:])
    assert model.transformer.embed_text(torch.arange(12)[None], 4).shape == (1, 4, 16)  # truncated


def test_cfm_loss_decreases():
    model = tiny().train()
    mel = torch.randn(2, 24, 20)
    text = pad_text([[1, 2, 3, 4, 5], [6, 7, 8]])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, _pred, span = model.loss(mel, text, generator=torch.Generator().manual_seed(0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]
    assert span.sum(dim=1).min() >= int(0.7 * 24) - 1  # 70-100 % of each utterance


def test_loss_only_on_infill_span():
    model = tiny()
    mel = torch.randn(1, 16, 20)
    loss, _pred, span = model.loss(mel, pad_text([[1, 2]]), lens=torch.tensor([10]),
                                  generator=torch.Generator().manual_seed(3))
    assert not span[0, 10:].any() and span.any()
    assert torch.isfinite(loss)


def test_forced_condition_drops():
    model = tiny(audio_drop_prob=0.0, cond_drop_prob=0.0)
    mel, text = torch.randn(2, 16, 20), pad_text([[1, 2, 3], [4, 5]])

    def run(**drops):
        return model.loss(mel, text, generator=torch.Generator().manual_seed(5), **drops)

    plain, pred, span = run()
    forced, pred_f, span_f = run(drop_audio=False, drop_text=False)  # what the probabilities 0 draw
    assert torch.equal(pred, pred_f) and torch.equal(span, span_f) and torch.equal(plain, forced)
    no_text = run(drop_audio=False, drop_text=True)[1]
    no_audio = run(drop_audio=True, drop_text=False)[1]
    assert not torch.allclose(no_text, pred) and not torch.allclose(no_audio, pred)
    assert not torch.allclose(no_text, run(drop_audio=True, drop_text=True)[1])  # text alone keeps the prompt
    always = tiny(audio_drop_prob=0.0, cond_drop_prob=1.0)  # the training rule: a text drop drops the audio too
    gen = torch.Generator().manual_seed(5)
    both = always.loss(mel, text, generator=gen)[1]
    assert torch.equal(both, always.loss(mel, text, generator=torch.Generator().manual_seed(5), drop_audio=True,
                                         drop_text=True)[1])


def test_sampling_seeded_reproducible_and_prompt_kept():
    model = tiny()
    cond = torch.randn(2, 5, 20)
    text = pad_text([[1, 2, 3, 4, 5, 6, 7], [3, 4]])
    kw = dict(lens=torch.tensor([5, 3]), nfe=3, seed=11)
    a = model.sample(cond, text, torch.tensor([12, 9]), **kw)
    b = model.sample(cond, text, torch.tensor([12, 9]), **kw)
    assert a.shape == (2, 12, 20) and torch.equal(a, b)
    assert torch.equal(a[0, :5], cond[0]) and torch.equal(a[1, :3], cond[1, :3])
    c = model.sample(cond, text, torch.tensor([12, 9]), lens=torch.tensor([5, 3]), nfe=3, seed=12)
    assert not torch.allclose(a[0, 5:], c[0, 5:])
    short = model.sample(cond[:1], text[:1], 2, nfe=2, cfg_strength=0.0, seed=1)
    assert short.shape[1] == 8  # at least text length + 1


def test_synthesize_with_vocoder():
    model = tiny()
    vocab = F5Vocab([" ", "a", "b", "c", "d", "e", ".", "h", "i", "l", "o", "t"])
    ref = 0.05 * torch.randn(256 * 20)
    calls = []
    def vocoder(mel):
        calls.append(mel.shape)
        return torch.zeros(1, mel.shape[-1] * 256)
    wav = model.synthesize("hello to a bee", ref, "a cat.", vocab=vocab, vocoder=vocoder, nfe=2, seed=0)
    frames = calls[0][-1]
    assert calls[0][:2] == (1, 20) and wav.shape == (frames * 256,)
    assert frames == int(20 / len("a cat. ") * len("hello to a bee"))
    mel = model.synthesize("hello to a bee", ref, "a cat.", vocab=vocab, nfe=2, seed=0, total_seconds=1.0)
    assert mel.shape == (int(24000 / 256) - 20, 20)


def test_text_tokens_and_vocab():
    assert text_to_tokens("Hi, there") == list("Hi, there")
    assert text_to_tokens("a,bc") == ["a", ",", " ", "b", "c"]  # space after punctuation before a word
    assert text_to_tokens("x;\u201cy\u201d") == ["x", ",", '"', "y", '"']
    vocab = F5Vocab([" ", "a", "b"])
    assert vocab.encode("ab z") == [1, 2, 0, 0] and vocab.unknown("ab z") == ["z"]
