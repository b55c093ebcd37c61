"""A small GPT: a decoder-only Transformer trained to predict the next token, in the spirit of nanoGPT.

Tokens and positions are embedded and added; a stack of blocks, each causal self-attention
then an MLP, both with a residual connection around a layer norm (the "pre-norm" layout of
GPT-2); a final layer norm and a linear head give the next-token scores. Generation keeps a
key/value cache, so each new token costs one pass over one position per block.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import LayerNorm, MultiHeadSelfAttention, attention_weights, causal_mask
from .checks import check_tensor
from .layers import Linear
from .rnn import sample_next


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU(x) = x * Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2.

    A smooth ReLU: it lets small negative values through a little. GPT-2 and BERT use it.
    """
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


class Block(nn.Module):
    """One Transformer block: x + attention(LN(x)), then x + MLP(LN(x)).

    The MLP is Linear(E, 4E) -> GELU -> Linear(4E, E), applied to each position on its own.
    Shapes: x (B, T, E) -> (B, T, E); ``cache`` as in :class:`MultiHeadSelfAttention`.
    ``fused=True`` computes attention, layer norm and GELU with PyTorch's fused kernels
    (the same functions, checked equal in the tests, in far fewer passes over memory).
    """

    def __init__(self, width: int, heads: int, fused: bool = False):
        super().__init__()
        self.ln_1 = LayerNorm(width, fused=fused)
        self.attn = MultiHeadSelfAttention(width, heads, fused=fused)
        self.ln_2 = LayerNorm(width, fused=fused)
        self.activation = F.gelu if fused else gelu
        self.fc = Linear(width, 4 * width)
        self.proj = Linear(4 * width, width)

    def forward(self, x: torch.Tensor, cache=None):
        attended, cache = self.attn(self.ln_1(x), causal=True, cache=cache)
        x = x + attended
        b, t, width = x.shape
        hidden = self.ln_2(x).reshape(b * t, width)  # the MLP sees each position separately
        x = x + self.proj(self.activation(self.fc(hidden))).view(b, t, width)
        return x, cache


class Embedding(nn.Module):
    """A lookup table: row i of ``weight`` (num, dim) is the vector of token (or position) i.

    Shapes: idx (...) int64 -> (..., dim). The same as multiplying a one-hot vector by
    ``weight``, without building the one-hot vector.
    """

    def __init__(self, num: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(0.02 * torch.randn(num, dim))  # GPT-2's initial scale

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        check_tensor(idx, "idx", dtype=torch.int64, device=self.weight.device)
        if idx.numel() and (idx.min() < 0 or idx.max() >= len(self.weight)):
            raise ValueError(f"idx: expected values in [0, {len(self.weight)}), got [{idx.min()}, {idx.max()}]")
        return self.weight[idx]


class GPT(nn.Module):
    """A decoder-only Transformer language model.

    logits = head(LN(blocks(token_embedding[idx] + position_embedding[positions]))).
    Shapes: idx (B, T) int64 with T <= block_size -> logits (B, T, vocab_size), and one
    (keys, values) cache per block. ``caches`` from a previous call continue that sequence:
    the new tokens are placed after the cached positions.
    Parameters: V E + L E + depth (12 E^2 + 13 E) + 2 E + E V, with vocabulary V, width E,
    block size L (see :func:`gpt_parameter_count`). ``fused`` as in :class:`Block`: on by
    default, since a model meant for training should be fast.
    """

    def __init__(self, vocab_size: int, block_size: int, width: int = 96, depth: int = 2,
                 heads: int = 4, fused: bool = True):
        super().__init__()
        self.vocab_size, self.block_size = vocab_size, block_size
        self.token_embedding = Embedding(vocab_size, width)
        self.position_embedding = Embedding(block_size, width)
        self.blocks = nn.ModuleList(Block(width, heads, fused) for _ in range(depth))
        self.ln_f = LayerNorm(width, fused=fused)
        self.head = Linear(width, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor, caches: list | None = None):
        check_tensor(idx, "idx", shape=("B", "T"), dtype=torch.int64)
        b, t = idx.shape
        start = 0 if caches is None else caches[0][0].shape[2]  # positions already cached
        if start + t > self.block_size:
            raise ValueError(f"the sequence would reach position {start + t}, beyond block_size {self.block_size}")
        x = self.embed(idx, start)
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if caches is None else caches[i])
            new_caches.append(cache)
        x = self.ln_f(x).reshape(b * t, -1)
        return self.head(x).view(b, t, self.vocab_size), new_caches

    def embed(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token plus position embeddings: idx (B, T) at positions start.. -> (B, T, E)."""
        positions = torch.arange(start, start + idx.shape[1], device=idx.device)
        return self.token_embedding(idx) + self.position_embedding(positions)


def gpt_parameter_count(vocab_size: int, block_size: int, width: int, depth: int) -> int:
    """V E (tokens) + L E (positions) + depth (12 E^2 + 13 E) + 2 E (final norm) + E V (head).

    Per block: attention 4 E^2 + 4 E (Q, K, V and output projections with biases), MLP
    8 E^2 + 5 E (E -> 4E -> E with biases), two layer norms 4 E. The number of heads does
    not appear: the heads split the width, they do not add parameters.
    """
    e = width
    return vocab_size * e + block_size * e + depth * (12 * e * e + 13 * e) + 2 * e + e * vocab_size


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Every head's attention weights on one sequence: idx (T,) -> (depth, heads, T, T).

    Map [l, h] row t says how much position t takes from each position in block l, head h;
    each row sums to 1 and is 0 after t (the causal mask). Computed with our
    :func:`utils.attention.attention_weights`, since the fused kernel never forms the weights.
    """
    check_tensor(idx, "idx", shape=(None,), dtype=torch.int64)
    was_training = model.training
    model.eval()
    x = model.embed(idx[None].to(model.head.weight.device))
    mask = causal_mask(len(idx), device=x.device)
    maps = []
    for block in model.blocks:
        q, k, _ = block.attn.project(block.ln_1(x))
        maps.append(attention_weights(q, k, mask)[0])
        x, _ = block(x)
    model.train(was_training)
    return torch.stack(maps).cpu()


def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep each row's k largest scores and set the rest to -inf, so they are never sampled."""
    if k is None or k >= logits.shape[-1]:
        return logits
    kth_largest = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, float("-inf"))


@torch.no_grad()
def generate(model: GPT, prompt: torch.Tensor, length: int, temperature: float = 1.0,
             top_k: int | None = None, generator: torch.Generator | None = None,
             use_cache: bool = True) -> torch.Tensor:
    """Continue ``prompt`` (T0,) int64 by ``length`` sampled tokens; returns (length,).

    With ``use_cache`` the prompt is read once and every later step feeds only the newest
    token, reusing the cached keys and values: n tokens cost n single-position passes. The
    sequence must then fit in ``block_size``. Without the cache each step reruns the model on
    the last ``block_size`` tokens, which gives the same tokens at far greater cost.
    """
    check_tensor(prompt, "prompt", shape=(None,), dtype=torch.int64)
    if len(prompt) == 0:
        raise ValueError("prompt must hold at least one token")
    if use_cache and len(prompt) + length - 1 > model.block_size:
        raise ValueError(f"prompt ({len(prompt)}) + length ({length}) exceeds block_size {model.block_size}; "
                         "use use_cache=False to slide a window instead")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    tokens = prompt.to(device)
    out, caches = [], None
    step_input = tokens
    for _ in range(length):
        if use_cache:
            logits, caches = model(step_input[None], caches)
        else:
            logits, _ = model(tokens[-model.block_size:][None])
        next_token = sample_next(top_k_filter(logits[:, -1], top_k), temperature, generator)
        out.append(next_token)
        tokens = torch.cat([tokens, next_token])
        step_input = next_token
    model.train(was_training)
    return torch.cat(out).cpu()
