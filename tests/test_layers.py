"""Linear and MLP against torch.nn, in values and gradients, on every device present."""
import pytest
import torch
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients
from utils import MLP, Linear


def test_linear_matches_torch_nn_linear(device):
    ours = Linear(5, 3).to(device).double()
    ref = nn.Linear(5, 3).to(device).double()
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = torch.randn(7, 5, dtype=torch.float64, device=device, requires_grad=True)
    assert_same_values_and_gradients(ours(x), ref(x), [x, ours.weight, ours.bias], [x, ref.weight, ref.bias])


def test_linear_init_scale_matches_torch():
    layer = Linear(400, 50)
    bound = 1 / 400**0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert Linear(4, 2, bias=False).bias is None


def test_mlp_matches_equivalent_torch_sequential(device):
    ours = MLP([4, 8, 8, 3], activation="tanh").to(device)
    linears = [m for m in ours.modules() if isinstance(m, Linear)]
    ref = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)).to(device)
    with torch.no_grad():
        for mine, theirs in zip(linears, [m for m in ref if isinstance(m, nn.Linear)]):
            theirs.weight.copy_(mine.weight)
            theirs.bias.copy_(mine.bias)
    x = torch.randn(6, 4, device=device)
    torch.testing.assert_close(ours(x), ref(x))
    ours(x).square().sum().backward()
    ref(x).square().sum().backward()
    torch.testing.assert_close(linears[0].weight.grad, ref[0].weight.grad)


@pytest.mark.parametrize(
    "x, error, message",
    [
        (torch.randn(5), ValueError, r"x: expected shape \(N, 3\), got \(5,\)"),
        (torch.randn(5, 4), ValueError, r"x: expected shape \(N, 3\), got \(5, 4\)"),
        (torch.randn(5, 3, dtype=torch.float64), TypeError, "expected dtype torch.float32, got torch.float64"),
        ([[1.0, 2.0, 3.0]], TypeError, "expected a torch.Tensor, got list"),
    ],
)
def test_bad_input_says_what_was_expected(x, error, message):
    with pytest.raises(error, match=message):
        Linear(3, 2)(x)


def test_mlp_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP([2, 2], activation="gelu")
