"""ASR output heads: CTC, and the RNN-T prediction net and joint (NeMo module and key names).

* :class:`CTCHead` (NeMo ``ConvASRDecoder``): ``decoder_layers.0`` = Conv1d(D -> C, k=1) on
  the encoder output, then ``log_softmax``. ``C = vocab_size + 1``, blank last.
* :class:`RNNTDecoder` (NeMo ``RNNTDecoder``, ``blank_as_pad``): ``prediction.embed`` =
  Embedding(C, H, padding_idx = blank) (the blank row is zero and doubles as the
  start-of-sequence input) and ``prediction.dec_rnn.lstm`` = LSTM(H, H, layers) followed by
  dropout; the LSTM's input-hidden forget-gate bias starts at 1.0 and its hidden-hidden one at 0.
* :class:`RNNTJoint` (NeMo ``RNNTJoint``): ``enc`` Linear(D -> J), ``pred`` Linear(H -> J),
  ``joint_net`` = [activation, Dropout, Linear(J -> C)] on ``enc(f)[:, :, None] + pred(g)[:, None]``;
  logits (the loss and the searches apply the softmax).

Shapes are batch-first: encoder output ``(B, T, D)``, labels ``(B, U)``.
"""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class CTCHead(nn.Module):
    """Encoder output ``(B, T, D)`` -> log-probabilities ``(B, T, C)`` (NeMo ``ConvASRDecoder``)."""

    def __init__(self, feat_in: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = int(num_classes)
        self.decoder_layers = nn.Sequential(nn.Conv1d(feat_in, num_classes, kernel_size=1, bias=True))

    def forward(self, enc: torch.Tensor) -> torch.Tensor:
        logits = self.decoder_layers(enc.transpose(1, 2)).transpose(1, 2)
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        return torch.log_softmax(logits, dim=-1)


class LSTMDropout(nn.Module):
    """``lstm`` (batch-first) then dropout on its output; NeMo's forget-gate bias initialisation."""

    def __init__(self, size: int, num_layers: int = 1, dropout: float = 0.0,
                 forget_gate_bias: float | None = 1.0) -> None:
        super().__init__()
        self.lstm = nn.LSTM(size, size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout) if dropout else None
        if forget_gate_bias is not None:
            with torch.no_grad():
                for name, p in self.lstm.named_parameters():
                    if name.startswith("bias_ih"):
                        p[size:2 * size].fill_(forget_gate_bias)
                    elif name.startswith("bias_hh"):
                        p[size:2 * size].zero_()

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x (B, U, H)`` -> ``(B, U, H)`` and the ``(h, c)`` state, each ``(layers, B, H)``."""
        y, state = self.lstm(x, state)
        return (self.dropout(y) if self.dropout is not None else y), state


class RNNTDecoder(nn.Module):
    """RNN-T prediction network: labels ``(B, U)`` -> ``(B, U, H)`` (NeMo ``RNNTDecoder``).

    Args:
        num_classes: tokens + blank (``C``); the blank (last) is the padding / start row.
        pred_hidden: embedding and LSTM width ``H``.
        pred_rnn_layers: LSTM layers.
        dropout: dropout after the LSTM (and between its layers).
    """

    state_batch_dim = 1

    def __init__(self, num_classes: int, pred_hidden: int = 640, pred_rnn_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.blank = int(num_classes) - 1
        self.pred_hidden = int(pred_hidden)
        self.prediction = nn.ModuleDict({
            "embed": nn.Embedding(num_classes, pred_hidden, padding_idx=self.blank),
            "dec_rnn": LSTMDropout(pred_hidden, pred_rnn_layers, dropout),
        })

    def predict(self, tokens: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``tokens (B, U)`` long from ``state`` (None: zeros) -> ``g (B, U, H)``, next state."""
        return self.prediction["dec_rnn"](self.prediction["embed"](tokens), state)

    def forward(self, targets: torch.Tensor) -> torch.Tensor:
        """Training: ``targets (B, U)`` -> ``g (B, U + 1, H)`` for ``[SOS (= blank), targets]``."""
        sos = torch.full((targets.shape[0], 1), self.blank, dtype=torch.long, device=targets.device)
        return self.predict(torch.cat([sos, targets.long()], dim=1), None)[0]


class RNNTJoint(nn.Module):
    """Joint network: ``f (B, T, D)``, ``g (B, U, H)`` -> logits ``(B, T, U, C)``."""

    def __init__(self, enc_hidden: int, pred_hidden: int, joint_hidden: int, num_classes: int,
                 dropout: float = 0.0, activation: str = "relu") -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"joint activation {activation!r}: expected one of {sorted(ACTIVATIONS)}")
        self.enc = nn.Linear(enc_hidden, joint_hidden)
        self.pred = nn.Linear(pred_hidden, joint_hidden)
        self.joint_net = nn.Sequential(ACTIVATIONS[activation](), nn.Dropout(dropout),
                                       nn.Linear(joint_hidden, num_classes))

    def forward(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return self.joint_net(self.enc(f).unsqueeze(2) + self.pred(g).unsqueeze(1))
