"""A vanilla recurrent network from scratch, a character-level language model on top of it,
gradient clipping by global norm, and sampling with a temperature.

Everything is written on torch ops, so autograd does backpropagation through time for us and
the same code runs on a GPU. The parameter names are ``torch.nn.RNNCell``'s and
``torch.nn.RNN``'s, so weights copy between ours and PyTorch's with ``load_state_dict``.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_tensor
from .layers import Linear


def _uniform(*shape: int, bound: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound))


class RNNCell(nn.Module):
    """One step of a vanilla (Elman) RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Shapes: x_t (N, input_size), h_{t-1} (N, hidden_size) -> h_t (N, hidden_size);
    W_ih (hidden_size, input_size), W_hh (hidden_size, hidden_size), b_ih and b_hh
    (hidden_size,). The two biases only ever appear as their sum; PyTorch keeps both, and so
    do we, so that its weights copy over. Initialised like ``torch.nn.RNNCell``: every entry
    uniform in [-1/sqrt(hidden_size), 1/sqrt(hidden_size)].
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = _uniform(hidden_size, input_size, bound=bound)
        self.weight_hh = _uniform(hidden_size, hidden_size, bound=bound)
        self.bias_ih = _uniform(hidden_size, bound=bound)
        self.bias_hh = _uniform(hidden_size, bound=bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.input_size), dtype=self.weight_ih.dtype,
                     device=self.weight_ih.device)
        h = _initial_state(h, len(x), self.hidden_size, x)
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class RNN(nn.Module):
    """A vanilla RNN run over whole sequences: the :class:`RNNCell` formula at t = 1, ..., T.

    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), with h_0 = 0 unless given.
    Shapes (batch first): x (N, T, input_size), h_0 (N, hidden_size) ->
    outputs (N, T, hidden_size), every h_t, and h_T (N, hidden_size), the last one.
    Equals ``torch.nn.RNN(input_size, hidden_size, batch_first=True)`` (one layer, tanh),
    whose parameters have the same names, except that PyTorch's h_0 and h_T carry an extra
    leading dimension for the layer: (1, N, hidden_size).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih_l0 = _uniform(hidden_size, input_size, bound=bound)
        self.weight_hh_l0 = _uniform(hidden_size, hidden_size, bound=bound)
        self.bias_ih_l0 = _uniform(hidden_size, bound=bound)
        self.bias_hh_l0 = _uniform(hidden_size, bound=bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(x, "x", shape=("N", "T", self.input_size), dtype=self.weight_ih_l0.dtype,
                     device=self.weight_ih_l0.device)
        h = _initial_state(h, len(x), self.hidden_size, x)
        # The input half of every step does not depend on h, so one big matrix product does
        # it for all T steps at once; only h_{t-1} W_hh^T must wait for the previous step.
        inputs = x @ self.weight_ih_l0.T + (self.bias_ih_l0 + self.bias_hh_l0)
        outputs = []
        for x_t in inputs.unbind(dim=1):  # unbind, not inputs[:, t]: its backward is one cheap stack
            h = torch.tanh(torch.addmm(x_t, h, self.weight_hh_l0.T))  # x_t + h W_hh^T, fused
            outputs.append(h)
        return torch.stack(outputs, dim=1), h

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


def _initial_state(h: torch.Tensor | None, n: int, hidden_size: int, x: torch.Tensor) -> torch.Tensor:
    if h is None:
        return x.new_zeros(n, hidden_size)
    return check_tensor(h, "h", shape=(n, hidden_size), dtype=x.dtype, device=x.device)


class CharRNN(nn.Module):
    """A character-level language model: one-hot characters -> :class:`RNN` -> Linear scores.

    At every position t it outputs scores (logits) y_t = h_t W_hy^T + b_y for the character
    that comes next; softmax(y_t) is the model's probability distribution over it. Feeding a
    one-hot vector x_t into the RNN just picks column x_t of W_ih, as an embedding would.
    Shapes: idx (N, T) int64 in [0, vocab_size), h_0 (N, hidden_size) ->
    logits (N, T, vocab_size), h_T (N, hidden_size).
    """

    def __init__(self, vocab_size: int, hidden_size: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = RNN(vocab_size, hidden_size)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, idx: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(idx, "idx", shape=("N", "T"), dtype=torch.int64, device=self.head.weight.device)
        x = F.one_hot(idx, self.vocab_size).to(self.head.weight.dtype)
        hidden, h_last = self.rnn(x, h)
        n, t, hidden_size = hidden.shape
        logits = self.head(hidden.reshape(n * t, hidden_size)).view(n, t, self.vocab_size)
        return logits, h_last


def clip_grad_norm(parameters, max_norm: float) -> torch.Tensor:
    """Scale all gradients by one factor so that their global L2 norm is at most ``max_norm``.

    The global norm is ||g|| = sqrt(sum over every parameter p of sum_i p.grad_i^2). When it
    exceeds max_norm every gradient is multiplied by max_norm / ||g||: the update keeps its
    direction and only gets shorter. Returns ||g|| before clipping, like
    ``torch.nn.utils.clip_grad_norm_``, whose 1e-6 in the denominator we copy so that the
    results agree.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total_norm = torch.stack([g.norm() for g in grads]).norm()
    scale = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)  # never scales gradients up
    for g in grads:
        g.mul_(scale)
    return total_norm


def sample_next(logits: torch.Tensor, temperature: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one class per row from softmax(logits / temperature): (N, C) -> (N,) int64.

    Temperature below 1 sharpens the distribution towards the most likely class (as it goes
    to 0, sampling becomes argmax); above 1 flattens it towards uniform. The draw is made on
    the CPU with ``generator``, so a seeded generator gives the same samples on any device.
    """
    check_tensor(logits, "logits", shape=("N", "C"), dtype="floating")
    if not temperature > 0:  # written so that a NaN temperature fails too
        raise ValueError(f"temperature must be positive, got {temperature} (for argmax use logits.argmax)")
    probs = torch.softmax(logits.detach().double().cpu() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1).to(logits.device)


@torch.no_grad()
def generate(model: CharRNN, prompt: torch.Tensor, length: int, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue ``prompt`` (T0,) int64 by ``length`` sampled characters; returns (length,).

    The model reads the prompt, then at each step samples the next character with
    :func:`sample_next` and feeds it back in, carrying the hidden state along.
    """
    check_tensor(prompt, "prompt", shape=(None,), dtype=torch.int64)
    if len(prompt) == 0:
        raise ValueError("prompt must hold at least one character")
    if length < 0:
        raise ValueError(f"length must be at least 0, got {length}")
    device = next(model.parameters()).device
    logits, h = model(prompt.to(device).unsqueeze(0))
    out = [torch.empty(0, dtype=torch.int64)]  # so that length 0 gives an empty (0,) tensor
    for _ in range(length):
        next_char = sample_next(logits[:, -1], temperature, generator)
        out.append(next_char.cpu())
        logits, h = model(next_char.unsqueeze(0), h)
    return torch.cat(out)
