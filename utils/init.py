"""Weight initialisation: choose the scale of random weights so signals neither die nor blow up.

A layer z = W a with fan_in inputs multiplies the variance of its input by about
fan_in * Var(W). Keeping that product at 1 (Glorot & Bengio 2010 for tanh, He et al. 2015 for
ReLU, which zeroes half its inputs and so needs twice the variance) keeps activations and
gradients at the same scale through any number of layers.
"""
import math

import torch
from torch import nn

from .checks import check_tensor


def fans(weight: torch.Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out_features, in_features, *kernel)."""
    check_tensor(weight, "weight")
    if weight.dim() < 2:
        raise ValueError(f"weight: expected at least 2 dimensions (out, in, ...), got shape {tuple(weight.shape)}")
    receptive = math.prod(weight.shape[2:])  # 1 for a Linear layer, k*k for a conv kernel
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def xavier_uniform_(weight: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot/Xavier: W ~ U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)), in place.

    Var(W) = a^2 / 3 = gain^2 * 2 / (fan_in + fan_out): the compromise between keeping the
    forward variance (fan_in Var(W) = 1) and the backward variance (fan_out Var(W) = 1).
    """
    fan_in, fan_out = fans(weight)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.uniform_(-bound, bound, generator=generator)


def xavier_normal_(weight: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot/Xavier: W ~ N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)), in place."""
    fan_in, fan_out = fans(weight)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.normal_(0.0, std, generator=generator)


def he_normal_(weight: torch.Tensor, mode: str = "fan_in", generator: torch.Generator | None = None) -> torch.Tensor:
    """He/Kaiming for ReLU: W ~ N(0, 2 / fan), fan = fan_in (default) or fan_out, in place.

    ReLU passes on average half the second moment, E[relu(z)^2] = Var(z) / 2, so each layer
    needs fan_in * Var(W) = 2 to keep the scale. ``mode="fan_out"`` keeps the gradients'
    scale in the backward pass instead.
    """
    fan = _pick_fan(weight, mode)
    with torch.no_grad():
        return weight.normal_(0.0, math.sqrt(2.0 / fan), generator=generator)


def he_uniform_(weight: torch.Tensor, mode: str = "fan_in", generator: torch.Generator | None = None) -> torch.Tensor:
    """He/Kaiming for ReLU: W ~ U(-a, a), a = sqrt(6 / fan), so Var(W) = 2 / fan, in place."""
    bound = math.sqrt(6.0 / _pick_fan(weight, mode))
    with torch.no_grad():
        return weight.uniform_(-bound, bound, generator=generator)


SCHEMES = ("small", "xavier", "he")


def initialize(model: nn.Module, scheme: str, std: float = 0.01, generator: torch.Generator | None = None) -> nn.Module:
    """Re-draw the weight of every layer with a 2-d ``weight`` (Linear layers), biases set to 0.

    ``scheme``: "small" (N(0, std^2), the common naive choice), "xavier" (normal) or "he"
    (normal, fan_in). Normalisation layers (1-d weights) are left alone. Returns ``model``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {SCHEMES}")
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
            continue
        if scheme == "small":
            with torch.no_grad():
                weight.normal_(0.0, std, generator=generator)
        elif scheme == "xavier":
            xavier_normal_(weight, generator=generator)
        else:
            he_normal_(weight, generator=generator)
        if getattr(module, "bias", None) is not None:
            with torch.no_grad():
                module.bias.zero_()
    return model


def _pick_fan(weight: torch.Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(weight)
    return fan_in if mode == "fan_in" else fan_out
