"""Convolution and pooling from scratch: cut the input into windows (im2col), then one matmul.

``sliding_windows`` is a view of every kernel-sized window of the input. Copying those
windows into the columns of a matrix is im2col; a convolution is then a single matrix
product with the flattened kernels, and a pooling layer is a max or a mean over each
window. Everything is torch ops, so autograd gives the backward pass and the same code
runs on a GPU.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .activations import ReLU
from .checks import check_tensor
from .layers import Linear


def conv2d_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a kernel of width F takes along an input of width H:
    floor((H + 2P - F) / S) + 1.

    The padded input is H + 2P wide; the kernel's first position covers F of it and every
    step of S moves it on, while it still fits. The same formula holds for pooling windows.
    """
    for name, value, least in (("size", size, 1), ("kernel_size", kernel_size, 1),
                               ("stride", stride, 1), ("padding", padding, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    if kernel_size > size + 2 * padding:
        raise ValueError(f"a kernel of size {kernel_size} does not fit in an input of size {size} "
                         f"padded by {padding} on each side ({size + 2 * padding} in all)")
    return (size + 2 * padding - kernel_size) // stride + 1


def sliding_windows(x: torch.Tensor, kernel_size: int, stride: int = 1, padding: int = 0,
                    pad_value: float = 0.0) -> torch.Tensor:
    """Every F x F window of a padded batch of images: (N, C, H, W) -> (N, C, H_out, W_out, F, F).

    windows[:, c, i, j, m, n] = X[:, c, i*S + m, j*S + n], X padded by P with ``pad_value``.
    A view (``Tensor.unfold``): no input is copied until a reshape needs it.
    """
    check_tensor(x, "x", shape=("N", "C", "H", "W"), dtype="floating")
    for size in x.shape[2:]:
        conv2d_output_size(size, kernel_size, stride, padding)  # a clear error if it cannot fit
    if padding:
        x = F.pad(x, (padding,) * 4, value=pad_value)
    return x.unfold(2, kernel_size, stride).unfold(3, kernel_size, stride)


class Conv2d(nn.Module):
    """A 2-D convolution layer (as in deep learning: a cross-correlation, the kernel is not flipped).

    Y[o, i, j] = sum_{c, m, n} W[o, c, m, n] X[c, i*S + m, j*S + n] + b[o],

    for each image of the batch, with X zero-padded by P on every side. Shapes: x
    (N, C_in, H, W) -> y (N, C_out, H_out, W_out) with H_out = floor((H + 2P - F) / S) + 1
    (likewise W_out); weight (C_out, C_in, F, F), bias (C_out,). Computed as im2col: copy
    the windows into cols (C_in*F*F, N*H_out*W_out), then y = weight.view(C_out, -1) @ cols.
    Initialised like ``torch.nn.Conv2d``: uniform in +-1/sqrt(C_in*F*F). ``fused=True``
    calls ``F.conv2d`` on the same parameters instead: PyTorch's kernels, no im2col copy.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 stride: int = 1, padding: int = 0, bias: bool = True, fused: bool = False):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.fused = fused
        bound = 1 / math.sqrt(in_channels * kernel_size * kernel_size)  # 1 / sqrt(fan-in)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.in_channels, "H", "W"), dtype=self.weight.dtype,
                     device=self.weight.device)
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        h_out, w_out = conv2d_output_size(h, k, s, p), conv2d_output_size(w, k, s, p)  # or a clear error
        if self.fused:
            return F.conv2d(x, self.weight, self.bias, s, p)
        windows = sliding_windows(x, k, s, p)  # (N, C_in, H_out, W_out, F, F), a view
        # im2col: one column per output position (n, i, j), holding its window's C_in*F*F inputs
        cols = windows.permute(1, 4, 5, 0, 2, 3).reshape(-1, n * h_out * w_out)
        y = self.weight.view(self.out_channels, -1) @ cols  # (C_out, N*H_out*W_out)
        if self.bias is not None:
            y = y + self.bias.view(-1, 1)
        return y.view(self.out_channels, n, h_out, w_out).transpose(0, 1).contiguous()

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}, fused={self.fused}")


class _Pool2d(nn.Module):
    """What max and average pooling share: window size F, stride S (default F), padding P."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0):
        super().__init__()
        if padding > kernel_size // 2:  # PyTorch's rule: otherwise a window could be all padding
            raise ValueError(f"padding must be at most kernel_size // 2 = {kernel_size // 2}, got {padding}")
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling: Y[c, i, j] = max_{m, n < F} X[c, i*S + m, j*S + n], channel by channel.

    Shapes: (N, C, H, W) -> (N, C, H_out, W_out), H_out = floor((H + 2P - F) / S) + 1.
    Padding counts as -inf, so it never wins. No parameters: the gradient flows only to
    the largest entry of each window (to one of them on a tie, as in PyTorch).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows = sliding_windows(x, self.kernel_size, self.stride, self.padding, pad_value=-math.inf)
        return windows.flatten(start_dim=-2).max(dim=-1).values


class AvgPool2d(_Pool2d):
    """Average pooling: Y[c, i, j] = (1 / F^2) sum_{m, n < F} X[c, i*S + m, j*S + n].

    Shapes as :class:`MaxPool2d`. Padding counts as zeros and is included in the F^2
    (PyTorch's default, ``count_include_pad=True``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        windows = sliding_windows(x, self.kernel_size, self.stride, self.padding)
        return windows.mean(dim=(-2, -1))


class Flatten(nn.Module):
    """(N, C, H, W) -> (N, C*H*W): feature maps laid out as one vector per image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", "C", "H", "W"))
        return x.flatten(start_dim=1)


class LeNet(nn.Module):
    """A LeNet-style network: [Conv2d -> ReLU -> MaxPool2d(2)] per entry of ``channels``,
    then Flatten -> Linear -> ReLU -> Linear.

    The convolutions are padded to keep the image size (odd ``kernel_size``, P = F // 2), so
    each block only halves it (rounding down). ``features`` maps (N, C_in, H, W) to
    (N, channels[-1], H', W'); ``classifier`` maps those to (N, num_classes) scores.
    Modernised from LeCun et al. (1998): ReLU and max pooling instead of tanh and
    trainable average pooling.
    """

    def __init__(self, image_size: int = 28, in_channels: int = 1, channels: tuple[int, ...] = (6, 16),
                 hidden: int = 84, num_classes: int = 10, kernel_size: int = 5):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so padding can keep the size, got {kernel_size}")
        blocks: list[nn.Module] = []
        size = image_size
        for c_in, c_out in zip((in_channels, *channels), channels):
            blocks += [Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2), ReLU(), MaxPool2d(2)]
            size = conv2d_output_size(size, 2, stride=2)
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            Flatten(), Linear(channels[-1] * size * size, hidden), ReLU(), Linear(hidden, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
