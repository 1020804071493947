"""Multi-head attention core with pluggable position handling and streaming caches.

* :class:`MultiHeadAttention`: ``linear_q/k/v/out`` projections, masking, softmax and
  dropout. How query/key scores are formed is the hook :meth:`MultiHeadAttention.scores`;
  a position scheme is a subclass that overrides it (RoPE, relative key bias, ... later).
* :class:`RelPositionMultiHeadAttention`: Transformer-XL relative positions as in NeMo's
  ``RelPositionMultiHeadAttention`` / ESPnet's ``RelPositionMultiHeadedAttention``
  (``linear_pos`` without bias, ``pos_bias_u``/``pos_bias_v`` of shape ``(H, d_k)``).
* :class:`RelPositionalEncoding`: the interleaved sin/cos table for relative positions
  ``n-1 ... -(n-1)`` plus the optional ``x * sqrt(d_model)`` input scaling.
* Caches: :func:`update_input_cache` keeps the last ``C`` attention *inputs* (NeMo's
  ``cache_last_channel``; keys/values are recomputed from ``[cache | chunk]``), and
  :meth:`MultiHeadAttention.forward_with_kv` appends projected keys/values (decoder style).

Masks are boolean with ``True`` = may attend (see :mod:`audiokit.nn.masks`). When the query
is shorter than the keys (a streaming chunk after its cache), the query rows are the
*last* ``T_q`` key positions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadAttention(nn.Module):
    """Scaled dot-product multi-head attention.

    Args:
        d_model: model width ``D`` (query/key/value inputs and output).
        n_heads: number of heads ``H``; ``D % H == 0``; ``d_k = D // H``.
        dropout: dropout on the attention weights.
        bias: biases in ``linear_q/k/v/out``.
        mask_value: score written at masked positions before the softmax (NeMo: ``-10000``;
            ``None``: the dtype's most negative value, as ESPnet). Masked weights are zeroed
            after the softmax so fully masked (padded) rows give zero context.
    """

    #: True where the logits are the scaled dot product of (possibly :meth:`transform_qk`-ed) ``q``
    #: and ``k``, so :meth:`forward` may use the fused kernel; subclasses adding terms set False
    plain_dot_product: bool = True

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True,
        mask_value: float | None = -10000.0,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.mask_value = mask_value
        self.linear_q = nn.Linear(d_model, d_model, bias=bias)
        self.linear_k = nn.Linear(d_model, d_model, bias=bias)
        self.linear_v = nn.Linear(d_model, d_model, bias=bias)
        self.linear_out = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D)`` -> ``(B, H, T, d_k)``."""
        return x.view(x.shape[0], x.shape[1], self.n_heads, self.d_k).transpose(1, 2)

    def project(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Project and split heads: each ``(B, T, D)`` -> ``(B, H, T, d_k)``."""
        return self._split(self.linear_q(query)), self._split(self.linear_k(key)), self._split(self.linear_v(value))

    def scores(self, q: torch.Tensor, k: torch.Tensor, pos_emb: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits ``(B, H, T_q, T_k)`` from ``q (B, H, T_q, d_k)``, ``k (B, H, T_k, d_k)``.

        The position hook: subclasses add relative terms or rotate ``q``/``k`` here.
        """
        return torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)

    def attend(self, scores: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Masked softmax, weighted sum of ``v (B, H, T_k, d_k)`` and output projection.

        ``mask``: ``(T_q, T_k)`` or ``(B, T_q, T_k)``, ``True`` = may attend. Returns ``(B, T_q, D)``.
        """
        if mask is not None:
            if mask.dim() == 2:
                mask = mask.unsqueeze(0)
            blocked = ~mask.unsqueeze(1)
            fill = torch.finfo(scores.dtype).min if self.mask_value is None else self.mask_value
            scores = scores.masked_fill(blocked, fill)
            weights = torch.softmax(scores, dim=-1).masked_fill(blocked, 0.0)
        else:
            weights = torch.softmax(scores, dim=-1)
        context = torch.matmul(self.dropout(weights), v)
        batch, _, t_q, _ = context.shape
        return self.linear_out(context.transpose(1, 2).reshape(batch, t_q, self.d_model))

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        mask: torch.Tensor | None = None, pos_emb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``query (B, T_q, D)``, ``key``/``value (B, T_k, D)`` -> ``(B, T_q, D)``.

        For a NeMo-style streaming step pass ``key = value = cat([cache, x])`` and ``query = x``.
        """
        q, k, v = self.project(query, key, value)
        if self.plain_dot_product:
            return self.attend_fused(*self.transform_qk(q, k, pos_emb), v, mask)
        return self.attend(self.scores(q, k, pos_emb), v, mask)

    def transform_qk(
        self, q: torch.Tensor, k: torch.Tensor, pos_emb: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Position handling that only transforms ``q``/``k`` (``(B, H, T, d_k)``; RoPE rotates)."""
        return q, k

    def attend_fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     mask: torch.Tensor | None) -> torch.Tensor:
        """:meth:`attend` of :meth:`scores` through torch's fused scaled-dot-product kernel.

        Same result up to float rounding (fully masked rows give zero context here too), without
        the ``(B, H, T_q, T_k)`` score tensor (F5-TTS sampling RTF 5.27 -> 3.07 at NFE 16, bench/README.md).
        """
        blocked_rows = None
        if mask is not None:
            if mask.dim() == 2:
                mask = mask.unsqueeze(0)
            mask = mask.unsqueeze(1)  # (B or 1, 1, T_q, T_k)
            blocked_rows = ~mask.any(dim=-1, keepdim=True)
        context = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout.p if self.training else 0.0)
        if blocked_rows is not None:  # torch 2.14 gives 0 there already; not every kernel does
            context = context.masked_fill(blocked_rows, 0.0)
        batch, _, t_q, _ = context.shape
        return self.linear_out(context.transpose(1, 2).reshape(batch, t_q, self.d_model))

    def forward_with_kv(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
        past_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        mask: torch.Tensor | None = None, pos_emb: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attention with a projected key/value cache (autoregressive decoders).

        ``past_kv``: ``(k, v)`` each ``(B, H, T_past, d_k)`` from earlier calls; the new keys
        and values are appended. Returns the output ``(B, T_q, D)`` and the grown cache.
        ``mask`` covers ``(T_q, T_past + T_k)``.
        """
        q, k, v = self.project(query, key, value)
        if past_kv is not None:
            k, v = torch.cat([past_kv[0], k], dim=2), torch.cat([past_kv[1], v], dim=2)
        return self.attend(self.scores(q, k, pos_emb), v, mask), (k, v)


def rel_shift(x: torch.Tensor, key_len: int | None = None) -> torch.Tensor:
    """Align relative-position scores to key positions (Transformer-XL).

    ``x``: ``(B, H, T_q, P)`` scores of each query against the relative positions
    ``n-1, n-2, ..., -(n-1)`` (``P = 2n - 1``, ``n`` = number of keys). Query ``i`` sits at
    key position ``n - T_q + i``. Returns ``(B, H, T_q, key_len)`` (default ``n``) with
    ``out[..., i, j] = x[..., i, T_q - 1 - i + j]`` (the score for distance ``pos_i - j``).
    """
    batch, heads, t_q, p = x.shape
    n = (p + 1) // 2
    key_len = n if key_len is None else key_len
    if p != 2 * n - 1 or t_q > n or key_len > n:
        raise ValueError(f"rel_shift: {t_q} queries and {key_len} keys do not fit {p} relative positions")
    x = x.contiguous()
    s_b, s_h, _, _ = x.stride()
    return x.as_strided(
        (batch, heads, t_q, key_len), (s_b, s_h, p - 1, 1), x.storage_offset() + t_q - 1,
    )


class RelPositionMultiHeadAttention(MultiHeadAttention):
    """Transformer-XL relative-position attention (NeMo/ESPnet ``rel_pos``).

    ``scores = ((q + u) k^T + rel_shift((q + v) p^T)) / sqrt(d_k)`` with
    ``p = linear_pos(pos_emb)``; ``pos_emb`` is ``(1 or B, 2 T_k - 1, D)`` from
    :class:`RelPositionalEncoding`. Parameters: ``linear_pos`` (no bias), ``pos_bias_u`` and
    ``pos_bias_v`` ``(H, d_k)`` (per layer, NeMo ``untie_biases=True``).
    """

    #: the relative-position term is added to the logits: no fused kernel
    plain_dot_product = False

    def __init__(
        self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True,
        mask_value: float | None = -10000.0,
    ) -> None:
        super().__init__(d_model, n_heads, dropout, bias, mask_value)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.d_k))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)

    def scores(self, q: torch.Tensor, k: torch.Tensor, pos_emb: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, H, T_q, T_k)`` content + position logits (see the class docstring)."""
        if pos_emb is None:
            raise ValueError("relative-position attention needs pos_emb")
        if pos_emb.shape[1] != 2 * k.shape[2] - 1:
            raise ValueError(f"pos_emb has {pos_emb.shape[1]} positions; {k.shape[2]} keys need {2 * k.shape[2] - 1}")
        p = self._split(self.linear_pos(pos_emb))  # (1|B, H, P, d_k)
        content = torch.matmul(q + self.pos_bias_u.unsqueeze(1), k.transpose(-2, -1))
        position = rel_shift(torch.matmul(q + self.pos_bias_v.unsqueeze(1), p.transpose(-2, -1)), k.shape[2])
        return (content + position) / math.sqrt(self.d_k)


def relative_sinusoids(length: int, d_model: int, device: torch.device | None = None) -> torch.Tensor:
    """``(1, 2 L - 1, D)`` table for positions ``L-1 ... -(L-1)``: even dims sin, odd dims cos.

    Frequencies ``exp(-ln(10000) * 2i / D)`` (computed in float32, as NeMo/ESPnet do).
    """
    positions = torch.arange(length - 1, -length, -1, dtype=torch.float32, device=device).unsqueeze(1)
    freqs = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32, device=device) * -(math.log(10000.0) / d_model))
    table = torch.zeros(2 * length - 1, d_model, device=device)
    table[:, 0::2] = torch.sin(positions * freqs)
    table[:, 1::2] = torch.cos(positions * freqs[: d_model // 2])
    return table.unsqueeze(0)


class RelPositionalEncoding(nn.Module):
    """Input scaling + relative position table for :class:`RelPositionMultiHeadAttention`.

    ``forward(x (B, T, D), cache_len)`` returns ``(dropout(x * xscale), pos_emb)`` with
    ``pos_emb (1, 2 (T + cache_len) - 1, D)`` (no position is added to ``x``). ``xscale``:
    ``sqrt(D)`` when ``xscaling`` (NeMo ``xscaling: true``), else 1.
    """

    def __init__(self, d_model: int, dropout: float = 0.0, dropout_emb: float = 0.0, xscaling: bool = True) -> None:
        super().__init__()
        self.d_model = d_model
        self.xscale = math.sqrt(d_model) if xscaling else None
        self.dropout = nn.Dropout(dropout)
        self.dropout_emb = nn.Dropout(dropout_emb)

    def forward(self, x: torch.Tensor, cache_len: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        if self.xscale is not None:
            x = x * self.xscale
        pos_emb = relative_sinusoids(x.shape[1] + cache_len, self.d_model, x.device).to(x.dtype)
        return self.dropout(x), self.dropout_emb(pos_emb)


def update_input_cache(cache: torch.Tensor, x: torch.Tensor, keep: int | None = None) -> torch.Tensor:
    """Next attention-input cache: the last ``C`` frames of ``[cache | x[:, :keep]]``.

    ``cache (B, C, D)``, ``x (B, T, D)`` -> ``(B, C, D)`` (NeMo ``cache_last_channel`` with
    ``keep = T - cache_drop_size``).
    """
    size = cache.shape[1]
    if size == 0:
        return cache
    keep = x.shape[1] if keep is None else keep
    return torch.cat([cache, x[:, :keep]], dim=1)[:, -size:]
