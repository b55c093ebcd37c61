"""Activation functions and their derivatives, written on torch ops.

Each derivative is the closed form a learner derives by hand; the tests and chapter 1
check them against ``torch.autograd``.
"""
import torch
from torch import nn

from .checks import check_tensor


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """sigma(x) = 1 / (1 + exp(-x)), elementwise; any shape in, the same shape out.

    Written so that ``exp`` only ever sees a non-positive argument: for x < 0 the
    equivalent form exp(x) / (1 + exp(x)) avoids overflowing exp(-x).
    """
    check_tensor(x, "x", dtype="floating")
    z = torch.exp(-x.abs())  # in (0, 1], never overflows
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """d sigma / dx = sigma(x) (1 - sigma(x)); at most 1/4, reached at x = 0."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = (e^x - e^-x) / (e^x + e^-x) = 2 sigma(2x) - 1, elementwise."""
    return 2 * sigmoid(2 * x) - 1


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """d tanh / dx = 1 - tanh(x)^2; at most 1, reached at x = 0."""
    return 1 - tanh(x) ** 2


def relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU(x) = max(0, x), elementwise."""
    check_tensor(x, "x", dtype="floating")
    return x.clamp_min(0)


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """d ReLU / dx = 1 where x > 0, else 0 (PyTorch also uses 0 at the kink x = 0)."""
    check_tensor(x, "x", dtype="floating")
    return (x > 0).to(x.dtype)


class Sigmoid(nn.Module):
    """The layer form of :func:`sigmoid`: (*) -> (*)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sigmoid(x)


class Tanh(nn.Module):
    """The layer form of :func:`tanh`: (*) -> (*)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tanh(x)


class ReLU(nn.Module):
    """The layer form of :func:`relu`: (*) -> (*)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return relu(x)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}
