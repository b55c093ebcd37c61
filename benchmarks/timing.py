"""What every benchmark shares: a median wall-time timer and the choice of devices to time on.

Benchmarks are scripts, not tests: timings depend on the machine and its load, so they print
numbers (ratios against PyTorch's own layers) and never fail on them.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `import utils` from anywhere in the repo


def median_time(step, device: torch.device, repeats: int) -> float:
    """Median wall time of ``step()`` in seconds, after two warm-up calls."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(2):
        step()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_against_torch(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor,
                       device: torch.device, repeats: int) -> tuple[float, float]:
    """Median seconds of one forward + backward pass on ``x``, for our layer and for PyTorch's.

    A layer that returns a tuple (an RNN's outputs and last state) is scored on its first item.
    """
    def forward_backward(layer):
        def step():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            out = layer(x)
            (out[0] if isinstance(out, tuple) else out).sum().backward()
        return step

    return median_time(forward_backward(ours), device, repeats), median_time(forward_backward(theirs), device, repeats)


def parse_devices(description: str, default_repeats: int = 10) -> tuple[list[torch.device], int]:
    """The command line every benchmark takes: ``--device all|cpu|cuda``, ``--repeats N``, ``--threads N``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="where to time (default: the CPU, and CUDA when available)")
    parser.add_argument("--repeats", type=int, default=default_repeats,
                        help=f"timed passes per case (default {default_repeats})")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's own choice)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was asked for, but CUDA is not available here")
    devices = [torch.device("cpu")] if args.device in ("all", "cpu") else []
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    return devices, args.repeats
