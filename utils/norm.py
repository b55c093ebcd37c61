"""Batch normalisation (Ioffe & Szegedy 2015), written on torch ops."""
import torch
from torch import nn

from .checks import check_tensor


class BatchNorm1d(nn.Module):
    """Normalise each feature over the batch, then scale and shift it.

    Training mode, for a batch x of shape (N, C), per feature c:
        mu = mean_n x[n, c],   var = mean_n (x[n, c] - mu)^2        (biased, divides by N)
        y = gamma * (x - mu) / sqrt(var + eps) + beta
        running_mean <- (1 - momentum) running_mean + momentum mu
        running_var  <- (1 - momentum) running_var  + momentum var * N / (N - 1)   (unbiased)
    Evaluation mode uses the running estimates instead of the batch's statistics, so each
    example's output no longer depends on the others in its batch:
        y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
    Shapes: x (N, C) -> y (N, C); gamma, beta, running_mean, running_var (C,).
    Same defaults and conventions as ``torch.nn.BatchNorm1d`` (eps=1e-5, momentum=0.1).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True):
        super().__init__()
        if not 0 <= momentum <= 1:
            raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features)) if affine else None  # gamma
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None  # beta
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.num_features), dtype=self.running_mean.dtype,
                     device=self.running_mean.device)
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(f"x: batch norm in training mode needs at least 2 rows to estimate a "
                                 f"variance, got {n} (use model.eval() to predict one example)")
            var, mean = torch.var_mean(x, dim=0, unbiased=False)
            with torch.no_grad():  # the running statistics are estimates, not part of the graph
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) * torch.rsqrt(var + self.eps)
        return y * self.weight + self.bias if self.weight is not None else y

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.weight is not None}"
