"""The training loop every chapter uses: forward, loss, backward, update, repeat."""
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .device import get_device

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(scores: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose highest score is the true class. scores (N, C), y (N,) int."""
    if scores.dim() != 2 or y.shape != scores.shape[:1]:
        raise ValueError(f"expected scores (N, C) and labels (N,), got {tuple(scores.shape)} and {tuple(y.shape)}")
    return (scores.argmax(dim=1) == y).float().mean().item()


@dataclass
class History:
    """Per-epoch record of a training run, ready for :func:`utils.plots.plot_history`."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric_name: str = ""


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, loss_fn: Callable, metric: Metric | None = None, device=None
) -> tuple[float, float | None]:
    """Mean loss (and metric) of ``model`` over every batch of ``loader``, in eval mode."""
    device = device or get_device()
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for xb, yb in loader:
        outputs.append(model(xb.to(device)))
        targets.append(yb.to(device))
    model.train(was_training)
    out, target = torch.cat(outputs), torch.cat(targets)
    return loss_fn(out, target).item(), (metric(out, target) if metric else None)


def fit(
    model: nn.Module,
    train_loader,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    val_loader=None,
    metric: Metric | None = None,
    device=None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``; return its :class:`History`.

    Each step is the loop of chapter 1: forward pass, loss, ``backward()`` for the gradients,
    ``optimizer.step()`` for the update. The model and every batch are moved to ``device``
    (default :func:`utils.device.get_device`), so the same call runs on a CPU or a GPU.
    """
    device = device or get_device()
    model.to(device)
    history = History(metric_name=getattr(metric, "__name__", ""))
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for _ in bar:
        model.train()
        total, count = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
        history.train_loss.append(total / count)
        postfix = {"train loss": f"{history.train_loss[-1]:.4f}"}
        if val_loader is not None:
            val_loss, val_metric = evaluate(model, val_loader, loss_fn, metric, device)
            history.val_loss.append(val_loss)
            postfix["val loss"] = f"{val_loss:.4f}"
            if val_metric is not None:
                history.val_metric.append(val_metric)
                postfix[history.metric_name or "metric"] = f"{val_metric:.4f}"
        bar.set_postfix(postfix)
    return history
