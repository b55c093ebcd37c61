"""What every benchmark shares: a median timer and the choice of devices to time on.

Benchmarks are scripts, not tests: timings depend on the machine and its load, so they print
numbers (ratios against PyTorch's own layers) and never fail on them. The clock is wall time;
``--clock cpu`` times the CPU time of this process instead (its threads' work, whatever else
the machine runs), steadier on a shared CPU and equal to wall time on a quiet one with one thread.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `import utils` from anywhere in the repo


CLOCK = time.perf_counter  # ``--clock cpu`` swaps in time.process_time


def median_times(steps, device: torch.device, repeats: int) -> list[float]:
    """Median time of each of ``steps`` (functions of no arguments) in seconds, after two warm-up
    calls each. The steps take turns, so a change in the machine's load hits them alike."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(2):
        for step in steps:
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, step_times in zip(steps, times):
            sync()
            start = CLOCK()
            step()
            sync()
            step_times.append(CLOCK() - start)
    return [statistics.median(step_times) for step_times in times]


def median_time(step, device: torch.device, repeats: int) -> float:
    """Median time of ``step()`` in seconds, after two warm-up calls."""
    return median_times([step], device, repeats)[0]


def time_against_torch(ours: torch.nn.Module, theirs: torch.nn.Module, x: torch.Tensor,
                       device: torch.device, repeats: int) -> tuple[float, float]:
    """Median seconds of one forward + backward pass on ``x``, for our layer and for PyTorch's,
    timed in turns.

    A layer that returns a tuple (an RNN's outputs and last state) is scored on its first item.
    """
    def forward_backward(layer):
        def step():
            layer.zero_grad(set_to_none=True)
            x.grad = None
            out = layer(x)
            (out[0] if isinstance(out, tuple) else out).sum().backward()
        return step

    t_ours, t_theirs = median_times([forward_backward(ours), forward_backward(theirs)], device, repeats)
    return t_ours, t_theirs


def parse_devices(description: str, default_repeats: int = 10) -> tuple[list[torch.device], int]:
    """The command line every benchmark takes: ``--device all|cpu|cuda``, ``--repeats N``, ``--threads N``,
    ``--clock wall|cpu``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                        help="where to time (default: the CPU, and CUDA when available)")
    parser.add_argument("--repeats", type=int, default=default_repeats,
                        help=f"timed passes per case (default {default_repeats})")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's own choice)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time (default) or this process's CPU time, steadier on a busy CPU")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda was asked for, but CUDA is not available here")
    devices = [torch.device("cpu")] if args.device in ("all", "cpu") else []
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    if args.clock == "cpu":
        if torch.device("cuda") in devices:
            parser.error("--clock cpu does not see the time a GPU works: use it with --device cpu")
        global CLOCK
        CLOCK = time.process_time
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {args.clock} clock")
    return devices, args.repeats
