"""Adversarial examples: tiny, deliberate changes to an input that make a network wrong.

Both attacks move the input *up* the gradient of the loss, inside an L-infinity ball of
radius epsilon around it (no pixel moves by more than epsilon), and keep the pixels in
their valid range. FGSM takes one step; PGD takes many small ones.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_tensor


def _check_attack_inputs(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float) -> None:
    check_tensor(x, "x", dtype="floating")
    check_tensor(y, "y", shape=(len(x),), dtype=torch.int64, device=x.device)
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the mean cross-entropy loss L(f(x), y) with respect to the input x."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float,
         clip: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al., 2015):

    x_adv = clip(x + epsilon * sign(grad_x L(f(x), y))).

    Shapes: x (N, ...) floating, y (N,) int64 labels -> x_adv like x, detached. Each pixel
    moves by exactly +-epsilon (0 where the gradient is 0), then is clipped to ``clip``.
    """
    _check_attack_inputs(model, x, y, epsilon)
    x_adv = x + epsilon * input_gradient(model, x, y).sign()
    return x_adv.clamp(*clip).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float | None = None,
        steps: int = 10, random_start: bool = True, clip: tuple[float, float] = (0.0, 1.0),
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent on the negative loss (Madry et al., 2018):

    x_0 = x + uniform noise in [-epsilon, epsilon] (or x), then ``steps`` times
    x_{t+1} = Proj(x_t + step_size * sign(grad_x L(f(x_t), y))),

    where Proj clips back into the epsilon-ball around x and into ``clip``. The default
    step size is 2.5 * epsilon / steps, so the steps can cross the ball. Shapes as
    :func:`fgsm`. ``generator`` (a CPU generator) makes the random start reproducible.
    """
    _check_attack_inputs(model, x, y, epsilon)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    step_size = 2.5 * epsilon / steps if step_size is None else step_size
    x_adv = x.detach()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype).to(x.device)
        x_adv = (x_adv + (2 * noise - 1) * epsilon).clamp(*clip)
    for _ in range(steps):
        x_adv = x_adv + step_size * input_gradient(model, x_adv, y).sign()
        x_adv = torch.min(torch.max(x_adv, x - epsilon), x + epsilon).clamp(*clip)  # Proj
    return x_adv.detach()


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (model(x).argmax(dim=1) == y).float().mean().item()


def accuracy_under_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack, epsilons,
                          **attack_options) -> list[float]:
    """Accuracy of ``model`` on ``attack(model, x, y, epsilon, **attack_options)`` for each epsilon.

    The model is put in eval mode (and back), and x, y are moved to its device.
    """
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    was_training = model.training
    model.eval()
    try:
        return [_accuracy(model, attack(model, x, y, eps, **attack_options) if eps > 0 else x, y)
                for eps in epsilons]
    finally:
        model.train(was_training)


class AdversarialLoader:
    """Wraps a loader of (x, y) batches so each batch is replaced by its adversarial version,
    ``attack(model, x, y)``, made against the model as it is at that moment: adversarial
    training (Madry et al., 2018) with :func:`utils.train.fit` unchanged.

    Batches are moved to the model's device. The model is attacked in eval mode, so layers
    such as dropout or batch norm do not change during the attack.
    """

    def __init__(self, loader, model: nn.Module, attack):
        self.loader, self.model, self.attack = loader, model, attack

    def __iter__(self):
        for x, y in self.loader:
            device = next(self.model.parameters()).device
            x, y = x.to(device), y.to(device)
            was_training = self.model.training
            self.model.eval()
            x_adv = self.attack(self.model, x, y)
            self.model.train(was_training)
            yield x_adv, y

    def __len__(self) -> int:
        return len(self.loader)
