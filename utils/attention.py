"""Attention from scratch: scaled dot-product attention, multi-head self-attention, layer norm.

Attention is a soft, differentiable lookup: each query scores every key, the softmax of the
scores says how much of each value to take. Everything is torch ops, so autograd does the
backward pass and the same code runs on a GPU; ``fused=True`` swaps our three lines for
PyTorch's ``F.scaled_dot_product_attention`` (flash or memory-efficient kernels on CUDA).
Parameter names follow ``torch.nn.MultiheadAttention``, so its weights copy into ours.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_tensor
from .layers import Linear


def causal_mask(queries: int, keys: int | None = None, device=None) -> torch.Tensor:
    """Which keys each query may look at: (T_q, T_k) bool, True where key j <= query i.

    The queries are the last T_q of the T_k positions (T_k = T_q unless a key/value cache
    holds earlier ones), so query i sits at position T_k - T_q + i and sees that position
    and every earlier one, never a later one.
    """
    keys = queries if keys is None else keys
    return torch.ones(queries, keys, dtype=torch.bool, device=device).tril(diagonal=keys - queries)


def attention_weights(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """alpha = softmax(Q K^T / sqrt(d_k) + M), one row of weights per query, summing to 1.

    Shapes: q (..., T_q, d_k), k (..., T_k, d_k), mask (T_q, T_k) bool (True: may attend)
    -> (..., T_q, T_k). M is 0 where the mask is True and -inf where it is False, so a
    masked key gets weight exactly 0. Dividing by sqrt(d_k) keeps the scores' variance near
    1 whatever the width, so the softmax does not saturate.
    """
    check_tensor(q, "q", dtype="floating")
    check_tensor(k, "k", dtype=q.dtype, device=q.device)
    if q.dim() < 2 or k.dim() < 2 or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must be (..., T, d_k) with the same d_k, got {tuple(q.shape)} and {tuple(k.shape)}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        check_tensor(mask, "mask", shape=scores.shape[-2:], dtype=torch.bool, device=q.device)
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, fused: bool = False,
                                 causal: bool = False) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_k) + M) V: each query's output is a weighted mean of the values.

    Shapes: q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v), mask (T_q, T_k) bool
    (True: may attend) -> (..., T_q, d_v). ``causal=True`` (with T_q = T_k) applies the
    causal mask without building it. ``fused=True`` calls ``F.scaled_dot_product_attention``,
    which computes the same without storing the (T_q, T_k) weights; given ``causal=True``
    rather than a mask, it may use its fastest (flash) kernel, which an explicit mask rules out.
    """
    check_tensor(v, "v", dtype=q.dtype, device=q.device)
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"k and v must hold the same number of positions, got {k.shape[-2]} and {v.shape[-2]}")
    if causal:
        if mask is not None or q.shape[-2] != k.shape[-2]:
            raise ValueError("causal=True takes no mask and as many queries as keys "
                             f"(got {q.shape[-2]} queries, {k.shape[-2]} keys); pass causal_mask(...) instead")
        if fused:
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = causal_mask(q.shape[-2], device=q.device)
    if fused:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attention_weights(q, k, mask) @ v


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, H*D) -> (B, H, T, D): each head gets its own D-wide slice of the features."""
    b, t, width = x.shape
    return x.view(b, t, heads, width // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, D) -> (B, T, H*D): the heads' outputs side by side again."""
    b, heads, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, heads * d)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention: H attentions side by side, each on its own projections.

    Q, K, V = x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v (stacked in ``in_proj_weight``,
    (3E, E)); each is split into H heads of width D = E / H; head h computes
    softmax(Q_h K_h^T / sqrt(D) + M) V_h; the heads are concatenated and projected by
    ``out_proj``. Shapes: x (B, T, E) -> (B, T, E). With ``causal=True`` no position sees a
    later one. ``cache`` is the (keys, values) of earlier positions, each (B, H, T_past, D);
    the new ones are appended and returned, so generation computes each position once.
    Equals ``torch.nn.MultiheadAttention(E, H, batch_first=True)`` with copied weights.
    """

    def __init__(self, embed_dim: int, num_heads: int, fused: bool = False):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be a multiple of num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.fused = embed_dim, num_heads, fused
        bound = math.sqrt(6 / (embed_dim + 3 * embed_dim))  # Xavier-uniform on (3E, E), as PyTorch does
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim).uniform_(-bound, bound))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = Linear(embed_dim, embed_dim)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, causal: bool = True,
                cache: tuple[torch.Tensor, torch.Tensor] | None = None):
        check_tensor(x, "x", shape=("B", "T", self.embed_dim), dtype=self.in_proj_weight.dtype,
                     device=self.in_proj_weight.device)
        b, t, width = x.shape
        q, k, v = self.project(x)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        if causal and cache is None:  # the square causal mask, which the fused call can apply itself
            y = scaled_dot_product_attention(q, k, v, fused=self.fused, causal=True)
        else:  # with a cache, the new queries sit after the cached keys: an explicit mask
            mask = causal_mask(t, k.shape[2], device=x.device) if causal else None
            y = scaled_dot_product_attention(q, k, v, mask, fused=self.fused)
        y = merge_heads(y)
        return self.out_proj(y.reshape(b * t, width)).view(b, t, width), (k, v)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, E) -> queries, keys and values, each split into heads: (B, H, T, D)."""
        q, k, v = (x @ self.in_proj_weight.T + self.in_proj_bias).split(self.embed_dim, dim=-1)
        return tuple(split_heads(z, self.num_heads) for z in (q, k, v))


class LayerNorm(nn.Module):
    """Layer normalisation: each position's features get mean 0 and variance 1, then a learnt scale and shift.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, with the mean and the (biased)
    variance taken over the last dimension. Shapes: x (..., D) -> (..., D); weight and
    bias (D,). Unlike batch norm it does not mix examples, so it behaves the same in
    training and evaluation and for a batch of one. ``fused=True`` calls ``F.layer_norm``:
    the same numbers in one pass over memory instead of six.
    """

    def __init__(self, dim: int, eps: float = 1e-5, fused: bool = False):
        super().__init__()
        self.eps, self.fused = eps, fused
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", dtype=self.weight.dtype, device=self.weight.device)
        if x.shape[-1] != len(self.weight):
            raise ValueError(f"x: expected shape (..., {len(self.weight)}), got {tuple(x.shape)}")
        if self.fused:
            return F.layer_norm(x, (len(self.weight),), self.weight, self.bias, self.eps)
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def sinusoidal_positional_encoding(length: int, dim: int) -> torch.Tensor:
    """The Transformer's fixed position signal: (length, dim), dim even.

    PE[p, 2i] = sin(p / 10000^(2i/dim)),  PE[p, 2i+1] = cos(p / 10000^(2i/dim)).
    Each pair of columns is a clock turning at its own speed; moving k positions on turns
    every clock by a fixed angle, so PE[p + k] is a linear function (a rotation) of PE[p].
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = 10000 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    pe = torch.empty(length, dim)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe
