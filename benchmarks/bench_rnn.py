"""How much slower are our RNN, LSTM and GRU than PyTorch's own? One training step, real shapes.

    python benchmarks/bench_rnn.py            # the CPU, and CUDA when there is a GPU
    python benchmarks/bench_rnn.py --device cpu --repeats 20 --threads 1

Prints, per shape, the median time of one forward + backward pass (a training step without
the optimizer) for ``utils.rnn.RNN`` and ``torch.nn.RNN`` (same weights, batch first) and
their ratio (> 1: ours is slower); then the same for ``utils.lstm_gru.LSTM`` / ``GRU`` against
``torch.nn.LSTM`` / ``GRU`` at hidden sizes 128 to 512 and 64 steps, and for their
``fused=True`` path, which runs PyTorch's own layer on our weights (its ratio should be 1). PyTorch runs the whole sequence in one fused C++ loop (cuDNN
on a GPU); ours is a Python loop over time steps, so the gap is widest for long sequences of
small steps. A script, not a test: timings depend on the machine and its load, so nothing here
can fail on them. On a CPU that other programs are using, try ``--threads 1`` (and ``--clock
cpu``): an RNN's small sequential matrix products gain little from several threads and lose a
lot when threads wait.
"""
import torch
from timing import parse_devices, time_against_torch  # also puts the repository on sys.path
from torch import nn

from utils.lstm_gru import GRU, LSTM
from utils.rnn import RNN

# (name, batch, time steps, input size, hidden size)
SHAPES = [
    ("char-RNN of chapter 5", 128, 32, 97, 256),
    ("long sequences", 32, 256, 97, 256),
    ("small and short", 64, 16, 32, 64),
    ("wide", 64, 32, 128, 1024),
]


# (name, batch, time steps, input size, hidden size) for the gated layers
GATED_SHAPES = [(f"H = {h}", 32, 64, 64, h) for h in (128, 256, 512)]


def bench(device: torch.device, repeats: int) -> None:
    print(f"\n{device.type}: median of {repeats} forward+backward passes")
    print(f"{'shape':<24}{'N, T, D, H':>20}{'ours (ms)':>11}{'torch (ms)':>12}{'ratio':>8}")
    for name, n, t, d, h in SHAPES:
        ours = RNN(d, h).to(device)
        theirs = nn.RNN(d, h, batch_first=True).to(device)
        theirs.load_state_dict(ours.state_dict())  # the same weights, so both do the same arithmetic
        x = torch.randn(n, t, d, device=device, requires_grad=True)
        t_ours, t_theirs = time_against_torch(ours, theirs, x, device, repeats)
        sizes = f"{n}, {t}, {d}, {h}"
        print(f"{name:<24}{sizes:>20}{1e3 * t_ours:>11.2f}{1e3 * t_theirs:>12.2f}{t_ours / t_theirs:>8.2f}")


def bench_gated(device: torch.device, repeats: int) -> None:
    print(f"\n{device.type}: LSTM and GRU, median of {repeats} forward+backward passes (ratios: time / torch's)")
    print(f"{'layer':<6}{'shape':<10}{'N, T, D, H':>18}{'ours (ms)':>11}{'torch (ms)':>12}{'ratio':>8}{'fused':>8}")
    for ours_class, torch_class in ((LSTM, nn.LSTM), (GRU, nn.GRU)):
        for name, n, t, d, h in GATED_SHAPES:
            ours = ours_class(d, h).to(device)
            theirs = torch_class(d, h, batch_first=True).to(device)
            theirs.load_state_dict(ours.state_dict())
            x = torch.randn(n, t, d, device=device, requires_grad=True)
            t_ours, t_theirs = time_against_torch(ours, theirs, x, device, repeats)
            fused = ours_class(d, h, fused=True).to(device)
            fused.load_state_dict(ours.state_dict())
            t_fused, t_theirs_again = time_against_torch(fused, theirs, x, device, repeats)
            sizes = f"{n}, {t}, {d}, {h}"
            print(f"{ours_class.__name__:<6}{name:<10}{sizes:>18}{1e3 * t_ours:>11.2f}{1e3 * t_theirs:>12.2f}"
                  f"{t_ours / t_theirs:>8.2f}{t_fused / t_theirs_again:>8.2f}")


def main() -> None:
    devices, repeats = parse_devices(__doc__.splitlines()[0])
    for device in devices:
        bench(device, repeats)
        bench_gated(device, repeats)


if __name__ == "__main__":
    main()
