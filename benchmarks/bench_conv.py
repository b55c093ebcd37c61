"""How much slower is our im2col Conv2d than PyTorch's own? Forward + backward, a few real shapes.

    python benchmarks/bench_conv.py            # the CPU, and CUDA when there is a GPU
    python benchmarks/bench_conv.py --device cpu --repeats 20

Prints, per shape, the median time of one forward + backward pass for ``utils.Conv2d`` and
``torch.nn.Conv2d`` (same weights) and their ratio (> 1: ours is slower). A script, not a
test: timings depend on the machine and its load, so nothing here can fail on them.
"""
import torch
from timing import parse_devices, time_against_torch  # also puts the repository on sys.path
from torch import nn

from utils.conv import Conv2d

# (name, batch, in channels, out channels, image size, kernel, stride, padding)
SHAPES = [
    ("digits conv1, 8x8", 128, 1, 16, 8, 3, 1, 1),
    ("LeNet conv2, 14x14", 64, 6, 16, 14, 5, 1, 2),
    ("MNIST 32ch, 28x28", 64, 16, 32, 28, 3, 1, 1),
    ("CIFAR 64ch, 32x32", 32, 64, 64, 32, 3, 1, 1),
    ("ResNet stem, 112x112", 8, 3, 64, 112, 7, 2, 3),
]


def bench(device: torch.device, repeats: int) -> None:
    print(f"\n{device.type}: median of {repeats} forward+backward passes")
    print(f"{'shape':<22}{'ours (ms)':>11}{'torch (ms)':>12}{'ratio':>8}")
    for name, n, c_in, c_out, size, k, s, p in SHAPES:
        ours = Conv2d(c_in, c_out, k, stride=s, padding=p).to(device)
        theirs = nn.Conv2d(c_in, c_out, k, stride=s, padding=p).to(device)
        with torch.no_grad():  # the same weights, so both do the same arithmetic
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
        x = torch.randn(n, c_in, size, size, device=device, requires_grad=True)
        t_ours, t_theirs = time_against_torch(ours, theirs, x, device, repeats)
        print(f"{name:<22}{1e3 * t_ours:>11.2f}{1e3 * t_theirs:>12.2f}{t_ours / t_theirs:>8.2f}")


def main() -> None:
    devices, repeats = parse_devices(__doc__.splitlines()[0])
    for device in devices:
        bench(device, repeats)


if __name__ == "__main__":
    main()
