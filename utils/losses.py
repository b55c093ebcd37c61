"""Loss functions written from their formulas."""
import torch

from .checks import check_tensor


def mse_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error L = (1/N) sum_i (y_hat_i - y_i)^2 over every element.

    ``y_hat`` and ``y`` must have the same shape (no silent broadcasting: a (N, 1)
    prediction against a (N,) target would otherwise compare every pair, an N x N
    matrix, and quietly give a wrong loss). Returns a scalar tensor.
    """
    check_tensor(y_hat, "y_hat", dtype="floating")
    check_tensor(y, "y", shape=tuple(y_hat.shape), dtype="floating")
    return ((y_hat - y) ** 2).mean()


def mse_loss_grad(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dy_hat = (2/N) (y_hat - y) for the mean-reduced :func:`mse_loss` (N elements).

    For the notes' L = 1/2 sum_i (y_hat_i - y_i)^2 the same derivation gives
    dL/dy_hat = y_hat - y: the 1/2 is there to cancel the 2.
    """
    check_tensor(y_hat, "y_hat", dtype="floating")
    check_tensor(y, "y", shape=tuple(y_hat.shape), dtype="floating")
    return 2 * (y_hat - y) / y_hat.numel()


def softmax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """softmax(z)_j = exp(z_j) / sum_k exp(z_k) along ``dim``; any shape in, the same out.

    Computed as exp(z_j - m) / sum_k exp(z_k - m) with m = max_k z_k: the factor exp(-m)
    cancels, so the value is the same, but exp never sees a positive argument and cannot
    overflow (in float32, exp(89) is already inf).
    """
    check_tensor(z, "z", dtype="floating")
    e = (z - z.amax(dim=dim, keepdim=True)).exp()
    return e / e.sum(dim=dim, keepdim=True)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy, averaged over the batch: what ``F.cross_entropy`` computes.

    logits z (N, C) are raw class scores, y (N,) int64 the true classes. For one example,
    L = -log softmax(z)_y = -z_y + log sum_j exp(z_j). Subtracting m = max_j z_j from every
    score changes nothing (the two m's cancel) but keeps exp from overflowing:
    L = -(z_y - m) + log sum_j exp(z_j - m). Returns a scalar tensor.
    """
    _check_logits_and_labels(logits, y)
    m = logits.amax(dim=1, keepdim=True).detach()  # a constant shift: its gradient cancels exactly
    shifted = logits - m  # every entry <= 0, so exp(shifted) <= 1
    log_sum_exp = shifted.exp().sum(dim=1).log()
    correct_class = shifted.gather(1, y.unsqueeze(1)).squeeze(1)
    return (log_sum_exp - correct_class).mean()


def cross_entropy_grad(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dL/dz = (softmax(z) - onehot(y)) / N for the batch-mean :func:`cross_entropy`; (N, C)."""
    _check_logits_and_labels(logits, y)
    grad = softmax(logits, dim=1)
    grad[torch.arange(len(y), device=y.device), y] -= 1  # subtract the one-hot target
    return grad / len(y)


def _check_logits_and_labels(logits: torch.Tensor, y: torch.Tensor) -> None:
    check_tensor(logits, "logits", shape=("N", "C"), dtype="floating")
    n, c = logits.shape
    check_tensor(y, "y", shape=(n,), dtype=torch.int64, device=logits.device)
    if n and (y.min() < 0 or y.max() >= c):
        raise ValueError(f"y: expected class indices in 0..{c - 1}, got values from "
                         f"{y.min().item()} to {y.max().item()}")
