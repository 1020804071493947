"""Heads keep NeMo's names and init; CTC and RNN-T losses on the model against exact dynamic programs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchaudio.functional as AF

from audiokit.models.asr import StreamingASR

ENC = dict(d_model=16, n_layers=1, n_heads=2, ff_expansion=2, conv_kernel_size=3, subsampling_conv_channels=4,
           att_context_size=[[4, 1], [4, 0]])


def tiny(decoder_type: str = "hybrid", vocab: int = 4) -> StreamingASR:
    torch.manual_seed(0)
    return StreamingASR(vocab, ENC, decoder_type, pred_hidden=8, joint_hidden=8, pred_dropout=0.0,
                        joint_dropout=0.0).eval()


def test_nemo_names_shapes_and_init():
    model = tiny(vocab=4)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["decoder.prediction.embed.weight"] == (5, 8)
    assert shapes["decoder.prediction.dec_rnn.lstm.weight_ih_l0"] == (32, 8)
    assert shapes["joint.enc.weight"] == (8, 16) and shapes["joint.pred.weight"] == (8, 8)
    assert shapes["joint.joint_net.2.weight"] == (5, 8)
    assert shapes["ctc_decoder.decoder_layers.0.weight"] == (5, 16, 1)
    assert shapes["encoder.pre_encode.out.weight"] == (16, 4 * 11)  # causal: 80 -> 41 -> 21 -> 11
    assert "encoder.layers.0.self_attn.pos_bias_u" in shapes
    assert not any(k.startswith("encoder.preprocessor") for k in shapes)
    assert model.decoder.prediction["embed"].weight[model.blank_id].abs().max() == 0  # SOS / pad row
    lstm = model.decoder.prediction["dec_rnn"].lstm
    assert torch.all(lstm.bias_ih_l0[8:16] == 1.0) and torch.all(lstm.bias_hh_l0[8:16] == 0.0)
    assert tiny("rnnt").ctc_decoder is None and tiny("ctc").joint is None


def ctc_dp(lp: torch.Tensor, target: list[int], blank: int) -> torch.Tensor:
    """-log P(target) of ``(T, V)`` log-probs by the CTC forward recursion (float64)."""
    ext = [blank]
    for k in target:
        ext += [k, blank]
    alpha = torch.full((len(ext),), -1e30, dtype=lp.dtype)
    alpha[0] = lp[0, blank]
    if len(ext) > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, lp.shape[0]):
        prev = alpha.clone()
        for s in range(len(ext)):
            terms = [prev[s]] + ([prev[s - 1]] if s > 0 else [])
            if s > 1 and ext[s] != blank and ext[s] != ext[s - 2]:
                terms.append(prev[s - 2])
            alpha[s] = torch.logsumexp(torch.stack(terms), 0) + lp[t, ext[s]]
    return -torch.logsumexp(alpha[-2:] if len(ext) > 1 else alpha[-1:], 0)


def rnnt_dp(lp: torch.Tensor, target: list[int], blank: int) -> torch.Tensor:
    """-log P(target) of ``(T, U + 1, V)`` log-probs by the transducer forward recursion."""
    T, U1, _ = lp.shape
    alpha = torch.full((T, U1), -1e30, dtype=lp.dtype)
    alpha[0, 0] = 0.0
    for t in range(T):
        for u in range(U1):
            terms = []
            if t > 0:
                terms.append(alpha[t - 1, u] + lp[t - 1, u, blank])
            if u > 0:
                terms.append(alpha[t, u - 1] + lp[t, u - 1, target[u - 1]])
            if terms:
                alpha[t, u] = torch.logsumexp(torch.stack(terms), 0)
    return -(alpha[T - 1, U1 - 1] + lp[T - 1, U1 - 1, blank])


def encoded(model: StreamingASR) -> tuple[torch.Tensor, torch.Tensor]:
    wav = torch.randn(2, 6400, generator=torch.Generator().manual_seed(1)) * 0.3
    return model.encode(wav, torch.tensor([6400, 4000]))


def test_ctc_loss_and_gradient_on_the_model():
    model = tiny().double()
    enc, enc_lens = encoded(model)
    targets, target_lens = torch.tensor([[0, 1, 1], [2, 3, 0]]), torch.tensor([3, 2])
    log_probs = model.ctc_decoder(enc).double()
    loss = F.ctc_loss(log_probs.transpose(0, 1), targets, enc_lens, target_lens, blank=model.blank_id,
                      reduction="sum")
    dp = sum(ctc_dp(log_probs[b, : enc_lens[b]], targets[b, : target_lens[b]].tolist(), model.blank_id)
             for b in range(2))
    g1 = torch.autograd.grad(loss, model.ctc_decoder.decoder_layers[0].weight, retain_graph=True)[0]
    g2 = torch.autograd.grad(dp, model.ctc_decoder.decoder_layers[0].weight, retain_graph=True)[0]
    assert loss.item() == pytest.approx(dp.item(), rel=1e-9)
    assert torch.allclose(g1, g2, atol=1e-9)
    loss.backward()
    assert model.encoder.layers[0].self_attn.linear_q.weight.grad.abs().sum() > 0


def test_rnnt_loss_and_gradient_on_the_model():
    model = tiny()
    enc, enc_lens = encoded(model)
    targets, target_lens = torch.tensor([[0, 1, 1], [2, 3, 0]]), torch.tensor([3, 2])
    logits = model.joint(enc, model.decoder(targets))  # (B, T, U + 1, C)
    assert logits.shape == (2, enc.shape[1], 4, model.num_classes)
    loss = AF.rnnt_loss(logits, targets.int(), enc_lens.int(), target_lens.int(), blank=model.blank_id,
                        reduction="sum")
    lp = logits.double().log_softmax(-1)
    dp = sum(rnnt_dp(lp[b, : enc_lens[b], : target_lens[b] + 1], targets[b, : target_lens[b]].tolist(),
                     model.blank_id) for b in range(2))
    g1 = torch.autograd.grad(loss, logits, retain_graph=True)[0]
    g2 = torch.autograd.grad(dp, logits, retain_graph=True)[0]
    assert loss.item() == pytest.approx(dp.item(), rel=1e-5)
    assert torch.allclose(g1, g2.float(), atol=1e-5)
    assert g1[1, enc_lens[1]:].abs().max() == 0  # padded frames get no gradient
    loss.backward()
    for name in ("decoder.prediction.embed.weight", "decoder.prediction.dec_rnn.lstm.weight_hh_l0",
                 "joint.enc.weight", "encoder.pre_encode.conv.0.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
