"""Softmax and cross-entropy from scratch (utils.losses) against PyTorch."""
import pytest
import torch
import torch.nn.functional as F

from utils.losses import cross_entropy, cross_entropy_grad, softmax


def random_batch(device, n=16, c=7, scale=3.0, dtype=torch.float64):
    logits = scale * torch.randn(n, c, dtype=dtype, device=device)
    y = torch.randint(0, c, (n,), device=device)
    return logits, y


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_matches_torch(device, dim):
    z = 5 * torch.randn(4, 6, 3, dtype=torch.float64, device=device)
    p = softmax(z, dim=dim)
    assert torch.allclose(p, torch.softmax(z, dim=dim))
    assert torch.allclose(p.sum(dim), torch.ones((), dtype=p.dtype, device=device))


def test_cross_entropy_value_matches_torch(device):
    for n, c in [(1, 2), (16, 7), (100, 10)]:
        logits, y = random_batch(device, n, c)
        assert torch.allclose(cross_entropy(logits, y), F.cross_entropy(logits, y))


def test_cross_entropy_autograd_gradient_matches_torch(device):
    logits, y = random_batch(device)
    ours = logits.clone().requires_grad_()
    theirs = logits.clone().requires_grad_()
    cross_entropy(ours, y).backward()
    F.cross_entropy(theirs, y).backward()
    assert torch.allclose(ours.grad, theirs.grad)


def test_cross_entropy_grad_is_softmax_minus_onehot_over_n(device):
    logits, y = random_batch(device)
    z = logits.clone().requires_grad_()
    (autograd,) = torch.autograd.grad(F.cross_entropy(z, y), z)
    grad = cross_entropy_grad(logits, y)
    assert torch.allclose(grad, autograd)
    # Each row of softmax - onehot sums to zero.
    assert torch.allclose(grad.sum(1), torch.zeros(len(y), dtype=grad.dtype, device=device))


def test_cross_entropy_grad_leaves_its_input_alone(device):
    logits, y = random_batch(device)
    before = logits.clone()
    cross_entropy_grad(logits, y)
    assert torch.equal(logits, before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_extreme_logits_stay_finite(device, dtype):
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0], [5.0, 5.0, 5.0]],
                          dtype=dtype, device=device)
    y = torch.tensor([0, 2, 1], device=device)
    naive = (-logits.gather(1, y[:, None]).squeeze(1) + logits.exp().sum(1).log()).mean()
    assert not torch.isfinite(naive)  # the formula without the max trick overflows
    z = logits.clone().requires_grad_()
    loss = cross_entropy(z, y)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.allclose(loss, F.cross_entropy(logits, y))
    assert torch.isfinite(z.grad).all()
    assert torch.allclose(cross_entropy_grad(logits, y), z.grad)
    p = softmax(logits, dim=1)
    assert torch.isfinite(p).all() and torch.allclose(p, torch.softmax(logits, dim=1))


def test_float32_logits(device):
    logits, y = random_batch(device, dtype=torch.float32)
    assert torch.allclose(cross_entropy(logits, y), F.cross_entropy(logits, y), atol=1e-6)


@pytest.mark.parametrize("logits, y, error, message", [
    (torch.randn(7), torch.tensor([1]), ValueError, r"logits: expected shape \(N, C\), got \(7,\)"),
    (torch.randn(4, 3), torch.tensor([0, 1, 2]), ValueError, r"y: expected shape \(4,\), got \(3,\)"),
    (torch.randn(4, 3), torch.zeros(4, 1, dtype=torch.int64), ValueError, r"y: expected shape \(4,\)"),
    (torch.randn(4, 3), torch.zeros(4), TypeError, "y: expected dtype torch.int64, got torch.float32"),
    (torch.zeros(4, 3, dtype=torch.int64), torch.zeros(4, dtype=torch.int64), TypeError,
     "logits: expected a floating-point tensor"),
    (torch.randn(4, 3), torch.tensor([0, 1, 3, 2]), ValueError, r"class indices in 0\.\.2, got values from 0 to 3"),
    (torch.randn(4, 3), torch.tensor([0, -1, 2, 2]), ValueError, "got values from -1 to 2"),
    ([[1.0, 2.0]], torch.tensor([0]), TypeError, "logits: expected a torch.Tensor, got list"),
])
def test_bad_inputs_raise_clear_errors(logits, y, error, message):
    for fn in (cross_entropy, cross_entropy_grad):
        with pytest.raises(error, match=message):
            fn(logits, y)


def test_softmax_rejects_integers():
    with pytest.raises(TypeError, match="z: expected a floating-point tensor"):
        softmax(torch.arange(3))
