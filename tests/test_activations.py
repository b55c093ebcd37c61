"""Our activations and their hand-derived derivatives against PyTorch and autograd."""
import pytest
import torch

from utils import activations as A

PAIRS = [
    (A.sigmoid, A.sigmoid_grad, torch.sigmoid),
    (A.tanh, A.tanh_grad, torch.tanh),
    (A.relu, A.relu_grad, torch.relu),
]


@pytest.mark.parametrize("f, f_grad, reference", PAIRS, ids=["sigmoid", "tanh", "relu"])
def test_values_and_derivatives_match_torch(f, f_grad, reference, device):
    x = (torch.randn(4, 7, dtype=torch.float64, device=device) * 5).requires_grad_()
    y = f(x)
    assert y.shape == x.shape and y.device == x.device
    torch.testing.assert_close(y, reference(x))
    (autograd,) = torch.autograd.grad(reference(x).sum(), x)
    torch.testing.assert_close(f_grad(x.detach()), autograd)
    # Our forward is differentiable by autograd too, with the same gradient.
    (ours,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(ours, autograd)


def test_sigmoid_is_stable_at_extremes():
    x = torch.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    y = A.sigmoid(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, torch.sigmoid(x))
    assert A.sigmoid_grad(torch.tensor(0.0)).item() == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU"])
def test_layer_forms_match_torch_nn(name):
    x = torch.randn(3, 5)
    torch.testing.assert_close(getattr(A, name)()(x), getattr(torch.nn, name)()(x))


def test_integer_input_is_rejected_with_a_clear_message():
    with pytest.raises(TypeError, match="expected a floating-point tensor, got torch.int64"):
        A.relu(torch.arange(3))
