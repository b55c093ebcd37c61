"""Gated recurrent networks from scratch: the LSTM and the GRU, one step and whole sequences.

Written on torch ops, so autograd does backpropagation through time and the code runs on a
GPU unchanged. Parameter names, shapes and the order of the gates inside each weight matrix
are PyTorch's (``nn.LSTMCell``, ``nn.LSTM``, ``nn.GRUCell``, ``nn.GRU``), so weights copy both
ways with ``load_state_dict``. Sequences are batch first, and the states of the multi-layer
``LSTM`` and ``GRU`` have PyTorch's leading layer dimension: (num_layers, N, H).
"""
import math
import warnings

import torch
from torch import nn

from .checks import check_tensor
from .rnn import CharRNN, _uniform


def lstm_step(gates: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The LSTM's update, from the pre-activations ``gates`` = [i | f | g | o] (N, 4H) and c_{t-1} (N, H).

    i, f, o = sigmoid(...) (input, forget, output gates), g = tanh(...) (the candidate),
    c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t). Returns h_t and c_t, (N, H) each.
    """
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(x_gates: torch.Tensor, h_gates: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The GRU's update, from the input part x W_ih^T + b_ih = [x_r | x_z | x_n] (N, 3H), the state
    part h W_hh^T + b_hh = [h_r | h_z | h_n] (N, 3H) and h_{t-1} (N, H).

    r = sigmoid(x_r + h_r) (reset gate), z = sigmoid(x_z + h_z) (update gate),
    n = tanh(x_n + r * h_n) (the candidate), h_t = (1 - z) * n + z * h_{t-1}.
    """
    x_r, x_z, x_n = x_gates.chunk(3, dim=1)
    h_r, h_z, h_n = h_gates.chunk(3, dim=1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer


class _GatedCell(nn.Module):
    """Parameters of a cell with ``gates`` gates, named and initialised like PyTorch's:
    weight_ih (gates*H, D), weight_hh (gates*H, H), bias_ih and bias_hh (gates*H,), every entry
    uniform in [-1/sqrt(H), 1/sqrt(H)]."""

    def __init__(self, input_size: int, hidden_size: int, gates: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        bound = 1 / math.sqrt(hidden_size)
        self.weight_ih = _uniform(gates * hidden_size, input_size, bound=bound)
        self.weight_hh = _uniform(gates * hidden_size, hidden_size, bound=bound)
        self.bias_ih = _uniform(gates * hidden_size, bound=bound)
        self.bias_hh = _uniform(gates * hidden_size, bound=bound)

    def _check(self, x: torch.Tensor, state: torch.Tensor | None, name: str) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.input_size), dtype=self.weight_ih.dtype, device=self.weight_ih.device)
        if state is None:
            return x.new_zeros(len(x), self.hidden_size)
        return check_tensor(state, name, shape=(len(x), self.hidden_size), dtype=x.dtype, device=x.device)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class LSTMCell(_GatedCell):
    """One LSTM step (Hochreiter and Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    [i | f | g | o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh  (PyTorch's gate order),
    i, f, o = sigmoid(.), g = tanh(.),  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t).
    Shapes: x_t (N, input_size), state (h_{t-1}, c_{t-1}) (N, hidden_size) each, zeros if
    None -> (h_t, c_t). Equals ``torch.nn.LSTMCell``.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, gates=4)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h, c = (None, None) if state is None else state
        h, c = self._check(x, h, "h"), self._check(x, c, "c")
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        return lstm_step(gates, c)


class GRUCell(_GatedCell):
    """One GRU step (Cho et al. 2014), in PyTorch's form and gate order [r | z | n]:

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz),
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h_t = (1 - z) * n + z * h_{t-1}.
    Shapes: x_t (N, input_size), h_{t-1} (N, hidden_size), zeros if None -> h_t (N, hidden_size).
    Equals ``torch.nn.GRUCell``.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size, gates=3)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._check(x, h, "h")
        return gru_step(x @ self.weight_ih.T + self.bias_ih, h @ self.weight_hh.T + self.bias_hh, h)


class _GatedRNN(nn.Module):
    """A stack of ``num_layers`` recurrent layers with PyTorch's parameter names (weight_ih_l0,
    weight_hh_l0, bias_ih_l0, bias_hh_l0, then _l1, ...); layer k + 1 reads layer k's outputs."""

    gates: int
    torch_class: type

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, fused: bool = False):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.fused = fused
        bound = 1 / math.sqrt(hidden_size)
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size
            setattr(self, f"weight_ih_l{k}", _uniform(self.gates * hidden_size, width, bound=bound))
            setattr(self, f"weight_hh_l{k}", _uniform(self.gates * hidden_size, hidden_size, bound=bound))
            setattr(self, f"bias_ih_l{k}", _uniform(self.gates * hidden_size, bound=bound))
            setattr(self, f"bias_hh_l{k}", _uniform(self.gates * hidden_size, bound=bound))

    def layer(self, k: int) -> tuple[torch.Tensor, ...]:
        """Layer k's weight_ih, weight_hh, bias_ih, bias_hh."""
        return tuple(getattr(self, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))

    def _check(self, x: torch.Tensor, state: torch.Tensor | None, name: str) -> torch.Tensor:
        weight = self.weight_ih_l0
        check_tensor(x, "x", shape=("N", "T", self.input_size), dtype=weight.dtype, device=weight.device)
        shape = (self.num_layers, len(x), self.hidden_size)
        if state is None:
            return x.new_zeros(shape)
        return check_tensor(state, name, shape=shape, dtype=x.dtype, device=x.device)

    def _fused_forward(self, x: torch.Tensor, state):
        """PyTorch's own layer (cuDNN on a GPU) run on our parameters: no copy, gradients reach ours."""
        template = self.torch_class(self.input_size, self.hidden_size, self.num_layers, batch_first=True,
                                    device="meta")  # shapes only; functional_call lends it our weights
        with warnings.catch_warnings():  # cuDNN would like one flat weight buffer; ours are separate tensors
            warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
            return torch.func.functional_call(template, dict(self.named_parameters()), (x, state))

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"fused={self.fused}")


class LSTM(_GatedRNN):
    """An LSTM over whole sequences: the :class:`LSTMCell` formula at t = 1, ..., T, in each layer.

    Shapes (batch first): x (N, T, input_size), state (h_0, c_0) (num_layers, N, hidden_size)
    each, zeros if None -> outputs (N, T, hidden_size) (the last layer's h_t at every t) and
    (h_T, c_T) (num_layers, N, hidden_size) each. Equals
    ``torch.nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)``.
    ``fused=True`` runs that very layer on our parameters instead of the Python loop.
    """

    gates, torch_class = 4, nn.LSTM

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h0, c0 = (None, None) if state is None else state
        h0, c0 = self._check(x, h0, "h_0"), self._check(x, c0, "c_0")
        if self.fused:
            return self._fused_forward(x, (h0, c0))
        last_h, last_c = [], []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer(k)
            h, c = h0[k], c0[k]
            # The input half of every step does not depend on the state: one matrix product
            # does it for all T steps; only h_{t-1} W_hh^T must wait for the previous step.
            inputs = x @ w_ih.T + (b_ih + b_hh)
            outputs = []
            for x_t in inputs.unbind(dim=1):
                h, c = lstm_step(torch.addmm(x_t, h, w_hh.T), c)
                outputs.append(h)
            x = torch.stack(outputs, dim=1)
            last_h.append(h)
            last_c.append(c)
        return x, (torch.stack(last_h), torch.stack(last_c))


class GRU(_GatedRNN):
    """A GRU over whole sequences: the :class:`GRUCell` formula at t = 1, ..., T, in each layer.

    Shapes (batch first): x (N, T, input_size), h_0 (num_layers, N, hidden_size), zeros if
    None -> outputs (N, T, hidden_size) (the last layer's h_t at every t) and h_T
    (num_layers, N, hidden_size). Equals
    ``torch.nn.GRU(input_size, hidden_size, num_layers, batch_first=True)``.
    ``fused=True`` runs that very layer on our parameters instead of the Python loop.
    """

    gates, torch_class = 3, nn.GRU

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        h0 = self._check(x, h0, "h_0")
        if self.fused:
            return self._fused_forward(x, h0)
        last_h = []
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self.layer(k)
            h = h0[k]
            inputs = x @ w_ih.T + b_ih  # b_hn sits inside r * (...), so the biases cannot all be merged
            outputs = []
            for x_t in inputs.unbind(dim=1):
                h = gru_step(x_t, torch.addmm(b_hh, h, w_hh.T), h)
                outputs.append(h)
            x = torch.stack(outputs, dim=1)
            last_h.append(h)
        return x, torch.stack(last_h)


def open_keep_gate(layer: nn.Module, bias: float) -> nn.Module:
    """Start the gate that keeps the state at sigmoid(bias), in every layer: the LSTM's forget gate,
    the GRU's update gate. Works on ours and PyTorch's, layers and cells; returns ``layer``.

    The gate is block 1 in both gate orders, [i | f | g | o] and [r | z | n]. It only sees the
    sum bias_ih + bias_hh, so bias_ih gets ``bias`` and bias_hh 0.
    """
    suffixes = [f"_l{k}" for k in range(layer.num_layers)] if hasattr(layer, "num_layers") else [""]
    hidden = layer.hidden_size
    with torch.no_grad():
        for suffix in suffixes:
            bias_ih, bias_hh = getattr(layer, f"bias_ih{suffix}", None), getattr(layer, f"bias_hh{suffix}", None)
            if bias_ih is None or len(bias_ih) not in (3 * hidden, 4 * hidden):
                raise ValueError(f"open_keep_gate expects an LSTM or a GRU (biases of 4H or 3H entries), "
                                 f"got {type(layer).__name__}")
            bias_ih[hidden:2 * hidden] = bias
            bias_hh[hidden:2 * hidden] = 0.0
    return layer


class CharLSTM(CharRNN):
    """Chapter 5's character-level model with an :class:`LSTM` in place of the vanilla RNN. The
    forget gate's bias starts at ``forget_bias`` (1 by default, as Jozefowicz et al. recommend).

    Shapes: idx (N, T) int64, state (h_0, c_0) or None -> logits (N, T, vocab_size), (h_T, c_T).
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1, forget_bias: float = 1.0):
        super().__init__(vocab_size, hidden_size)
        self.rnn = open_keep_gate(LSTM(vocab_size, hidden_size, num_layers), forget_bias)
