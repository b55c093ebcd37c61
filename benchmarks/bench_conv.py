"""How much slower are our im2col Conv2d and ConvTranspose2d than PyTorch's own? Forward + backward, real shapes.

    python benchmarks/bench_conv.py            # the CPU, and CUDA when there is a GPU
    python benchmarks/bench_conv.py --device cpu --repeats 20 --threads 1

Prints, per shape, the median time of one forward + backward pass for ``utils.conv.Conv2d``
and ``torch.nn.Conv2d`` (same weights), then for ``utils.gan.ConvTranspose2d`` and
``torch.nn.ConvTranspose2d``, their ratio (> 1: ours is slower), and the ratio of the
``fused=True`` path, which calls ``F.conv2d`` / ``F.conv_transpose2d`` on our weights (it
should be 1). Ours copies every window of the input into a column (im2col) and multiplies;
PyTorch's kernels never build that matrix. A script, not a test: timings depend on the
machine and its load, so nothing here can fail on them. On a CPU that other programs are
using, compare the ratios of one run, and try ``--threads 1 --clock cpu``.
"""
import torch
from timing import parse_devices, time_against_torch  # also puts the repository on sys.path
from torch import nn

from utils.conv import Conv2d
from utils.gan import ConvTranspose2d

# (name, batch, in channels, out channels, image size, kernel, stride, padding)
SHAPES = [
    ("digits conv1, 8x8", 128, 1, 16, 8, 3, 1, 1),
    ("LeNet conv2, 14x14", 64, 6, 16, 14, 5, 1, 2),
    ("MNIST 32ch, 28x28", 64, 16, 32, 28, 3, 1, 1),
    ("CIFAR 64ch, 32x32", 32, 64, 64, 32, 3, 1, 1),
    ("ResNet stem, 112x112", 8, 3, 64, 112, 7, 2, 3),
]

# the same for the transposed convolution; image size is the input's (it doubles: F=4, S=2, P=1)
TRANSPOSED_SHAPES = [
    ("ch. 8 G, 2x2 -> 4x4", 64, 64, 32, 2, 4, 2, 1),
    ("ch. 8 G, 4x4 -> 8x8", 64, 32, 1, 4, 4, 2, 1),
    ("DCGAN, 16x16 -> 32x32", 32, 128, 64, 16, 4, 2, 1),
]


def bench(device: torch.device, repeats: int) -> None:
    print(f"\n{device.type}: median of {repeats} forward+backward passes (ratios: time / torch's)")
    print(f"{'shape':<24}{'ours (ms)':>11}{'torch (ms)':>12}{'ratio':>8}{'fused':>8}")
    for (ours_class, torch_class), shapes in (((Conv2d, nn.Conv2d), SHAPES),
                                              ((ConvTranspose2d, nn.ConvTranspose2d), TRANSPOSED_SHAPES)):
        print(ours_class.__name__)
        for name, n, c_in, c_out, size, k, s, p in shapes:
            ours = ours_class(c_in, c_out, k, stride=s, padding=p).to(device)
            theirs = torch_class(c_in, c_out, k, stride=s, padding=p).to(device)
            fused = ours_class(c_in, c_out, k, stride=s, padding=p, fused=True).to(device)
            theirs.load_state_dict(ours.state_dict())  # the same weights, so all do the same arithmetic
            fused.load_state_dict(ours.state_dict())
            x = torch.randn(n, c_in, size, size, device=device, requires_grad=True)
            t_ours, t_theirs = time_against_torch(ours, theirs, x, device, repeats)
            t_fused, t_theirs_again = time_against_torch(fused, theirs, x, device, repeats)
            print(f"{name:<24}{1e3 * t_ours:>11.2f}{1e3 * t_theirs:>12.2f}{t_ours / t_theirs:>8.2f}"
                  f"{t_fused / t_theirs_again:>8.2f}")


def main() -> None:
    devices, repeats = parse_devices(__doc__.splitlines()[0])
    for device in devices:
        bench(device, repeats)


if __name__ == "__main__":
    main()
