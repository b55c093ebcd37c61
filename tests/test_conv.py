"""Our im2col convolution and pooling equal PyTorch's, in values and in gradients; so does the
convolution's ``fused=True`` path, which calls PyTorch's kernel where the im2col path calls none."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients, with_weights_of
from utils.conv import AvgPool2d, Conv2d, Flatten, LeNet, MaxPool2d, conv2d_output_size, sliding_windows
from utils.testing import ForbiddenCallError, forbid

# (kernel, stride, padding): 1x1, "same", strided, strided with padding, big kernel
CONV_CASES = [(1, 1, 0), (3, 1, 1), (3, 2, 0), (3, 2, 1), (5, 3, 2), (4, 1, 0)]
POOL_CASES = [(2, None, 0), (3, 1, 1), (3, 2, 1), (2, 1, 0), (4, 3, 2)]


@pytest.mark.parametrize("size, kernel, stride, padding", [
    (8, 3, 1, 1), (28, 5, 1, 0), (7, 3, 2, 0), (7, 3, 2, 1), (224, 7, 2, 3), (5, 5, 1, 0), (6, 4, 3, 0),
])
def test_output_size_formula_matches_pytorch(size, kernel, stride, padding):
    actual = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                      stride=stride, padding=padding).shape[-1]
    assert conv2d_output_size(size, kernel, stride, padding) == actual


@pytest.mark.parametrize("args, message", [
    ((3, 5, 1, 0), "does not fit"),
    ((8, 3, 0, 0), "stride must be an int >= 1"),
    ((8, 3, 1, -1), "padding must be an int >= 0"),
    ((8, 2.0, 1, 0), "kernel_size must be an int"),
])
def test_output_size_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        conv2d_output_size(*args)


def _torch_twin(ours: Conv2d) -> nn.Conv2d:
    """An nn.Conv2d with our layer's settings and a copy of its weights."""
    return with_weights_of(ours, nn.Conv2d(ours.in_channels, ours.out_channels, ours.kernel_size, ours.stride,
                                           ours.padding, bias=ours.bias is not None))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kernel, stride, padding", CONV_CASES)
def test_conv2d_matches_torch_in_values_and_gradients(kernel, stride, padding, bias, fused, device):
    """Both paths against PyTorch's layer on its own copy of the weights: a setting the fused path
    dropped changes the values, a parameter it did not pass on gets no gradient (an error)."""
    ours = Conv2d(3, 4, kernel, stride=stride, padding=padding, bias=bias, fused=fused).to(device, torch.float64)
    theirs = _torch_twin(ours)
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64, device=device, requires_grad=True)  # H != W
    assert_same_values_and_gradients(ours(x), theirs(x), [x, *ours.parameters()], [x, *theirs.parameters()])


@pytest.mark.parametrize("fused", [False, True])
def test_conv2d_float32_default_matches_torch(fused, device):
    ours = Conv2d(8, 16, 3, padding=1, fused=fused).to(device)
    x = torch.randn(4, 8, 12, 12, device=device)
    assert torch.allclose(ours(x), _torch_twin(ours)(x), atol=1e-5)


def test_only_the_fused_path_runs_pytorchs_convolution():
    layer = Conv2d(3, 4, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    with forbid("torch.nn.functional.conv2d", task="the im2col path"):
        layer(x).sum().backward()  # unfold, matmul and their gradients: no convolution kernel
    layer.fused = True
    with pytest.raises(ForbiddenCallError, match="conv2d"), forbid("torch.nn.functional.conv2d", task="fused"):
        layer(x)


def test_conv2d_is_cross_correlation_by_hand():
    # Y[i, j] = sum_{c,m,n} W[c, m, n] X[c, i*S + m, j*S + n] + b, one output pixel at a time.
    layer = Conv2d(2, 1, 3, stride=2).double()
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64)
    y = layer(x)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            window = x[0, :, 2 * i: 2 * i + 3, 2 * j: 2 * j + 3]
            assert torch.allclose(y[0, 0, i, j], (layer.weight[0] * window).sum() + layer.bias[0])


def test_conv2d_initialisation_scale_matches_torch():
    ours = Conv2d(16, 32, 3)
    bound = 1 / (16 * 3 * 3) ** 0.5
    assert ours.weight.abs().max() <= bound and ours.weight.abs().max() > 0.9 * bound
    assert ours.bias.abs().max() <= bound


@pytest.mark.parametrize("bad, error, message", [
    (torch.randn(2, 4, 8, 8), ValueError, r"x: expected shape \(N, 3, H, W\), got \(2, 4, 8, 8\)"),
    (torch.randn(3, 8, 8), ValueError, r"x: expected shape \(N, 3, H, W\), got \(3, 8, 8\)"),
    (torch.randn(2, 3, 8, 8, dtype=torch.float64), TypeError, "expected dtype torch.float32"),
    (torch.randn(2, 3, 2, 8), ValueError, "does not fit"),
    ([[1.0]], TypeError, "expected a torch.Tensor"),
])
@pytest.mark.parametrize("fused", [False, True])
def test_conv2d_bad_input_gives_a_clear_error(bad, error, message, fused):
    with pytest.raises(error, match=message):
        Conv2d(3, 5, 3, fused=fused)(bad)


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_max_pool_matches_torch_in_values_and_gradients(kernel, stride, padding, device):
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, device=device, requires_grad=True)
    y = MaxPool2d(kernel, stride, padding)(x)
    expected = F.max_pool2d(x, kernel, stride, padding)
    assert torch.equal(y, expected)
    upstream = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, upstream)
    (grad_ref,) = torch.autograd.grad(expected, x, upstream)
    assert torch.allclose(grad, grad_ref)


def test_max_pool_tie_sends_gradient_to_one_entry_like_torch():
    x = torch.ones(1, 1, 2, 2, requires_grad=True)
    MaxPool2d(2)(x).sum().backward()
    assert x.grad.sum() == 1 and x.grad.max() == 1  # not 1/4 to each of the four


@pytest.mark.parametrize("kernel, stride, padding", POOL_CASES)
def test_avg_pool_matches_torch_in_values_and_gradients(kernel, stride, padding, device):
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, device=device, requires_grad=True)
    y = AvgPool2d(kernel, stride, padding)(x)
    expected = F.avg_pool2d(x, kernel, stride, padding)
    assert torch.allclose(y, expected)
    upstream = torch.randn_like(y)
    (grad,) = torch.autograd.grad(y, x, upstream)
    (grad_ref,) = torch.autograd.grad(expected, x, upstream)
    assert torch.allclose(grad, grad_ref)


def test_pool_rejects_padding_over_half_the_window():
    with pytest.raises(ValueError, match="padding must be at most kernel_size // 2 = 1"):
        MaxPool2d(3, padding=2)


def test_pool_bad_input_gives_a_clear_error():
    with pytest.raises(ValueError, match=r"expected shape \(N, C, H, W\), got \(8, 8\)"):
        MaxPool2d(2)(torch.randn(8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        AvgPool2d(2)(torch.ones(1, 1, 4, 4, dtype=torch.int64))


def test_sliding_windows_are_the_im2col_columns_of_unfold():
    x = torch.randn(2, 3, 7, 6)
    windows = sliding_windows(x, 3, stride=2, padding=1)  # (N, C, H_out, W_out, F, F)
    n, c, h_out, w_out, f, _ = windows.shape
    cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(n, c * f * f, h_out * w_out)
    assert torch.equal(cols, F.unfold(x, 3, padding=1, stride=2))


def test_flatten_and_lenet_shapes_and_parameter_count(device):
    assert Flatten()(torch.randn(2, 3, 4, 5)).shape == (2, 60)
    model = LeNet(image_size=28).to(device)  # the classic sizes: 6 and 16 maps of 5x5 kernels
    assert model(torch.randn(3, 1, 28, 28, device=device)).shape == (3, 10)
    expected = (6 * 1 * 25 + 6) + (16 * 6 * 25 + 16) + (16 * 7 * 7 * 84 + 84) + (84 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_lenet_gradients_reach_every_parameter(device):
    model = LeNet(image_size=8, channels=(4, 8), hidden=16, kernel_size=3).to(device)
    F.cross_entropy(model(torch.randn(5, 1, 8, 8, device=device)),
                    torch.randint(0, 10, (5,), device=device)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_lenet_rejects_even_kernels():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        LeNet(kernel_size=4)
