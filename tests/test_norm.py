"""BatchNorm1d against torch.nn.BatchNorm1d: outputs, gradients and running statistics."""
import pytest
import torch
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients
from utils.norm import BatchNorm1d


def _pair(device, c=6, momentum=0.1):
    ours = BatchNorm1d(c, momentum=momentum).to(device).double()
    ref = nn.BatchNorm1d(c, momentum=momentum).to(device).double()
    with torch.no_grad():
        ours.weight.copy_(torch.rand(c) + 0.5)
        ours.bias.copy_(torch.randn(c))
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    return ours, ref


@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_training_mode_matches_torch_values_gradients_and_running_stats(device, momentum):
    ours, ref = _pair(device, momentum=momentum)
    for step in range(3):
        x = (3 * torch.randn(16, 6, dtype=torch.float64, device=device) + 2).requires_grad_()
        assert_same_values_and_gradients(ours(x), ref(x), [x, ours.weight, ours.bias], [x, ref.weight, ref.bias])
        torch.testing.assert_close(ours.running_mean, ref.running_mean)
        torch.testing.assert_close(ours.running_var, ref.running_var)
    assert ours.num_batches_tracked.item() == ref.num_batches_tracked.item() == 3


def test_eval_mode_uses_running_stats_and_matches_torch(device):
    ours, ref = _pair(device)
    for _ in range(5):
        x = torch.randn(32, 6, dtype=torch.float64, device=device) * 2 - 1
        ours(x), ref(x)
    ours.eval(), ref.eval()
    x = torch.randn(4, 6, dtype=torch.float64, device=device, requires_grad=True)
    y_ours, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y_ours, y_ref)
    (g_ours,), (g_ref,) = torch.autograd.grad(y_ours.sum(), [x]), torch.autograd.grad(y_ref.sum(), [x])
    torch.testing.assert_close(g_ours, g_ref)
    # In eval mode each row's output does not depend on the other rows of the batch.
    torch.testing.assert_close(ours(x[:1]), y_ours[:1])


def test_training_output_is_normalised_per_feature():
    bn = BatchNorm1d(3, affine=False)
    y = bn(torch.randn(500, 3) * 10 + 4)
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


@pytest.mark.parametrize("x, error, message", [
    (torch.randn(4, 5), ValueError, r"x: expected shape \(N, 3\), got \(4, 5\)"),
    (torch.randn(1, 3), ValueError, "at least 2 rows"),
    (torch.randn(4, 3, dtype=torch.float64), TypeError, "expected dtype torch.float32"),
])
def test_bad_input_says_what_was_expected(x, error, message):
    with pytest.raises(error, match=message):
        BatchNorm1d(3)(x)
