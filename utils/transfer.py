"""Transfer learning with few labels: draw k labelled examples per class, fit a linear probe.

A linear probe is L2-regularised logistic regression on the fixed features of a pretrained
network (its activations before the last layer): the quickest test of how much those
features already know about a new task.
"""
import torch
import torch.nn.functional as F

from .checks import check_tensor
from .layers import Linear


def few_labels(y: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """The indices of k random examples of each class present in ``y`` (N,), class by class.

    Returns (k * number of classes,) indices into ``y`` (fewer for a class with fewer than k
    examples). The same ``seed`` gives the same draw.
    """
    check_tensor(y, "y", shape=("N",), dtype=torch.int64)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    generator = torch.Generator().manual_seed(seed)
    return torch.cat([members.nonzero().flatten()[torch.randperm(int(members.sum()), generator=generator)[:k]]
                      for members in (y == label for label in y.unique())])


def linear_probe(features: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float = 1e-3,
                 max_iter: int = 500, tolerance: float = 1e-6) -> Linear:
    """L2-regularised logistic regression on fixed features: the head s = W f + b minimising

        L = -(1/N) sum_n log softmax(W f_n + b)_{y_n} + (l2 / 2) ||W||_F^2     (b is not penalised),

    solved with L-BFGS. For three or more classes this is scikit-learn's LogisticRegression
    with C = 1 / (l2 N); for two, C = 2 / (l2 N) (scikit-learn fits one vector w = W_1 - W_0,
    and at the minimum W_0 = -W_1, so ||W||_F^2 = ||w||^2 / 2).

    Shapes: features (N, D) floating, y (N,) int64 in [0, num_classes) -> a Linear(D, num_classes)
    in eval mode, started from the global seed. The penalty matters when a linear head can
    separate the examples, as few labels in many dimensions usually allow: without it
    (``l2=0``) L has no minimum there, it falls towards 0 as W grows, and the head found would
    depend on where the solver stops. With ``l2 > 0`` L is strictly convex in W and has one
    minimiser (b up to a constant added to every entry, which changes no prediction), so the
    solver needs no learning rate or step count to tune: it stops when the gradient's largest
    entry falls below ``tolerance``, when L changes by less than 1e-9 in a step, or after
    ``max_iter`` iterations.
    """
    check_tensor(features, "features", shape=("N", None), dtype="floating")
    check_tensor(y, "y", shape=(len(features),), dtype=torch.int64, device=features.device)
    if len(y) and not (0 <= int(y.min()) and int(y.max()) < num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {y.min().item()} to {y.max().item()}")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    head = Linear(features.shape[1], num_classes).to(features.device, features.dtype)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=max_iter, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=tolerance, tolerance_change=1e-9)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(head(features), y) + l2 / 2 * head.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head.eval()
