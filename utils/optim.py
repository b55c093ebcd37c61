"""Optimizers written from their update rules: SGD, SGD with momentum, and Adam.

They subclass ``torch.optim.Optimizer``, so ``utils.train.fit`` (or any PyTorch loop) can use
them in place of ``torch.optim.SGD`` and ``torch.optim.Adam``; the tests check that they
take the same steps.
"""
from collections.abc import Callable

import torch


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent, with optional momentum mu (PyTorch's convention).

    Without momentum:  p <- p - lr * g.
    With momentum:     v <- mu * v + g;  p <- p - lr * v   (v starts at 0).
    The velocity v is a running sum of past gradients, decayed by mu at each step, so
    directions in which the gradient keeps its sign build up speed and zigzags cancel.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:  # a parameter the loss did not use
                    continue
                step = p.grad
                if mu:
                    v = self.state[p].setdefault("velocity", torch.zeros_like(p))
                    v.mul_(mu).add_(p.grad)
                    step = v
                p.sub_(lr * step)


class Adam(torch.optim.Optimizer):
    """Adam (Kingma & Ba 2015): momentum plus a per-parameter step size from RMSProp.

    At step t, with gradient g:
        m <- b1 m + (1 - b1) g             running mean of the gradient
        v <- b2 v + (1 - b2) g^2           running mean of its square
        m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t)   undo the bias towards m = v = 0
        p <- p - lr * m_hat / (sqrt(v_hat) + eps)
    Dividing by sqrt(v_hat) makes each coordinate's step about lr whatever the gradient's
    scale; eps keeps that division finite where the gradient is 0.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["t"] += 1
                t, m, v, g = state["t"], state["m"], state["v"], p.grad
                m.mul_(b1).add_((1 - b1) * g)
                v.mul_(b2).add_((1 - b2) * g * g)
                m_hat = m / (1 - b1**t)
                v_hat = v / (1 - b2**t)
                p.sub_(lr * m_hat / (v_hat.sqrt() + eps))


def trajectory(f: Callable[[torch.Tensor], torch.Tensor], start, optimizer_class, steps: int,
               **hyperparameters) -> torch.Tensor:
    """Minimise f from ``start`` (D numbers); return the points visited, shape (steps + 1, D).

    ``f`` maps a tensor of shape (D,) to a scalar; ``optimizer_class(params, **hyperparameters)``
    builds the optimizer, e.g. ``trajectory(f, (-1, 1), Adam, 500, lr=0.05)``.
    """
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_class([point], **hyperparameters)
    path = [point.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        f(point).backward()
        optimizer.step()
        path.append(point.detach().clone())
    return torch.stack(path)
