"""Which input pixels does a prediction depend on? Gradient saliency and integrated gradients.

Both explain one output score f_c(x) of a network (class c's logit) on one batch of inputs.
"""
import copy

import torch
from torch import nn

from .checks import check_tensor


def _check_target(x: torch.Tensor, target: torch.Tensor) -> None:
    check_tensor(x, "x", dtype="floating")
    check_tensor(target, "target", shape=(len(x),), dtype=torch.int64, device=x.device)


def class_scores(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """f_c(x) for each row: the score of class ``target[i]`` for input ``x[i]``. Shape (N,)."""
    return model(x).gather(1, target.view(-1, 1)).squeeze(1)


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient saliency (Simonyan et al., 2014): S(x) = |d f_c(x) / d x|, one map per input.

    Shapes: x (N, ...) floating, target (N,) int64 classes -> S like x. Inputs do not
    interact (no batch norm in training mode), so one backward pass gives every row's map.
    """
    _check_target(x, target)
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(class_scores(model, x, target).sum(), x)
    return grad.abs()


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
                         baseline: torch.Tensor | None = None, steps: int = 50) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al., 2017), by the midpoint Riemann sum:

    IG_i(x) = (x_i - x'_i) * integral_0^1 d f_c(x' + a (x - x')) / d x_i da
            ~ (x_i - x'_i) * (1/m) sum_{k=0}^{m-1} grad_i f_c(x' + (k + 1/2)/m * (x - x')),

    with baseline x' (default: all zeros, a black image) and m = ``steps``. Shapes: x (N, ...),
    target (N,), baseline like x or broadcastable to it -> attributions like x. By the
    completeness axiom they sum, per input, to f_c(x) - f_c(x') (up to the sum's error).
    """
    _check_target(x, target)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    baseline = torch.zeros_like(x) if baseline is None else baseline.expand_as(x).to(x)
    x, baseline = x.detach(), baseline.detach()
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    total = torch.zeros_like(x)
    for alpha in alphas:  # one batch per point of the path keeps memory at one batch
        point = (baseline + alpha * (x - baseline)).requires_grad_(True)
        (grad,) = torch.autograd.grad(class_scores(model, point, target).sum(), point)
        total += grad
    return (x - baseline) * total / steps


def randomized_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every parameter redrawn from N(0, std of that parameter):
    the same architecture and weight scale, none of what training learned. An explanation
    method that gives the same maps for both fails the sanity check of Adebayo et al. (2018).
    """
    generator = torch.Generator().manual_seed(seed)
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for p in clone.parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            p.copy_(noise * p.std().nan_to_num(0.0))
    return clone
