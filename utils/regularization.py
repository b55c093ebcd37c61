"""Regularisation: dropout, L1/L2 penalties, decoupled weight decay (AdamW), early stopping."""
import copy

import torch
from torch import nn

from .checks import check_tensor
from .optim import Adam


def dropout(x: torch.Tensor, p: float, training: bool = True, mask: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout (Srivastava et al. 2014): y = x * m / (1 - p), m ~ Bernoulli(1 - p).

    Each element is kept with probability 1 - p and then scaled by 1 / (1 - p), so
    E[y] = x: nothing needs rescaling at evaluation time, where y = x. ``mask`` (shape of x,
    0s and 1s) replaces the random draw, e.g. to reproduce another implementation's choice.
    Shapes: x (*) -> y (*).
    """
    check_tensor(x, "x", dtype="floating")
    if not 0 <= p < 1:
        raise ValueError(f"p must lie in [0, 1), got {p}")
    if not training or p == 0:
        return x
    if mask is None:
        mask = (torch.rand(x.shape, generator=generator, device=generator.device if generator else x.device)
                >= p).to(x.device)
    check_tensor(mask, "mask", shape=tuple(x.shape), device=x.device)
    return x * mask.to(x.dtype) / (1 - p)


class Dropout(nn.Module):
    """Inverted dropout as a layer: random zeros in ``train()`` mode, the identity in ``eval()``."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"p must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def l2_penalty(model: nn.Module, weights_only: bool = True) -> torch.Tensor:
    """(1/2) sum_w w^2 over the model's weights (biases and 1-d parameters skipped by default).

    Adding lam * l2_penalty to the loss adds lam * w to every weight's gradient.
    """
    return sum(0.5 * (p**2).sum() for p in _penalised(model, weights_only))


def l1_penalty(model: nn.Module, weights_only: bool = True) -> torch.Tensor:
    """sum_w |w| over the model's weights; its gradient lam * sign(w) pushes weights to exactly 0."""
    return sum(p.abs().sum() for p in _penalised(model, weights_only))


def _penalised(model: nn.Module, weights_only: bool):
    params = [p for p in model.parameters() if p.dim() >= 2 or not weights_only]
    if not params:
        raise ValueError("the model has no parameters to penalise")
    return params


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    Each step first shrinks every parameter, p <- p - lr * weight_decay * p, and then takes
    the plain Adam step of :class:`utils.optim.Adam` on the loss's own gradient. Adam with an
    L2 term in the loss instead adds weight_decay * p to the gradient *before* the division by
    sqrt(v_hat), so weights with large gradients get almost no decay.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        super().__init__(params, lr=lr, betas=betas, eps=eps)
        self.defaults["weight_decay"] = weight_decay  # for groups added later
        for group in self.param_groups:
            group.setdefault("weight_decay", weight_decay)

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
        super().step()


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs; keep the best weights.

    Call ``step(val_loss, model)`` after each epoch: it returns True when training should stop.
    ``restore(model)`` then loads the weights of the best epoch (``best_epoch``, counted from 1).
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0):
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience, self.min_delta = patience, min_delta
        self.best_loss, self.best_epoch, self.epoch, self.best_state = float("inf"), 0, 0, None

    def step(self, val_loss: float, model: nn.Module) -> bool:
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = val_loss, self.epoch
            self.best_state = copy.deepcopy(model.state_dict())
        return self.epoch - self.best_epoch >= self.patience

    def restore(self, model: nn.Module) -> nn.Module:
        if self.best_state is None:
            raise RuntimeError("restore() before any call to step(): there is no best epoch yet")
        model.load_state_dict(self.best_state)
        return model
