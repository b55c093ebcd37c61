"""Layers written from scratch on torch ops, so autograd and CUDA work unchanged."""
import math

import torch
from torch import nn

from .activations import ACTIVATIONS
from .checks import check_tensor


class Linear(nn.Module):
    """A fully connected layer: y = x W^T + b.

    Shapes: x (N, in_features) -> y (N, out_features); W (out_features, in_features),
    b (out_features,). Initialised like ``torch.nn.Linear``: every entry uniform in
    [-1/sqrt(in_features), 1/sqrt(in_features)], so a layer's outputs start at a scale
    that does not grow with its width.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.in_features), dtype=self.weight.dtype,
                     device=self.weight.device)
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class MLP(nn.Module):
    """A multi-layer perceptron: Linear, activation, Linear, activation, ..., Linear.

    ``sizes = [d_in, h_1, ..., d_out]`` gives len(sizes) - 1 Linear layers with the
    activation between them (none after the last, so the output is raw scores or a
    regression value). Shapes: (N, d_in) -> (N, d_out).
    """

    def __init__(self, sizes: list[int], activation: str = "relu"):
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least an input and an output size, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(d_in, d_out))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
