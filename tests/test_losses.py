"""MSE and its gradient against torch.nn.functional and autograd."""
import pytest
import torch
import torch.nn.functional as F

from utils import mse_loss, mse_loss_grad


def test_mse_matches_torch_and_its_gradient_matches_autograd(device):
    y_hat = torch.randn(32, 3, dtype=torch.float64, device=device, requires_grad=True)
    y = torch.randn(32, 3, dtype=torch.float64, device=device)
    loss = mse_loss(y_hat, y)
    torch.testing.assert_close(loss, F.mse_loss(y_hat, y))
    (autograd,) = torch.autograd.grad(loss, y_hat)
    torch.testing.assert_close(mse_loss_grad(y_hat.detach(), y), autograd)


def test_half_sum_form_has_gradient_y_hat_minus_y():
    # The notes' L = 1/2 sum (y_hat - y)^2: its gradient is exactly y_hat - y.
    y_hat = torch.randn(10, requires_grad=True)
    y = torch.randn(10)
    (grad,) = torch.autograd.grad(0.5 * ((y_hat - y) ** 2).sum(), y_hat)
    torch.testing.assert_close(grad, (y_hat - y).detach())
    torch.testing.assert_close(mse_loss_grad(y_hat.detach(), y) * y.numel() / 2, grad)


def test_shape_mismatch_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match=r"y: expected shape \(8, 1\), got \(8,\)"):
        mse_loss(torch.randn(8, 1), torch.randn(8))
