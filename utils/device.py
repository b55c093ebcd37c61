"""Which device the course's tensors live on: CUDA, then Apple MPS, then the CPU."""
import os
from contextlib import contextmanager

import torch

DEVICE_ENV_VAR = "COURSE_DEVICE"
_KNOWN = ("cpu", "cuda", "mps")


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on.

    Order of preference: ``prefer`` if given, else the environment variable
    ``COURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``), else the first available of
    CUDA, Apple MPS and the CPU. Asking for a device that is not there is an error, not a
    silent fallback, so a forced GPU run never quietly runs on the CPU.
    """
    choice = (prefer if prefer is not None else os.environ.get(DEVICE_ENV_VAR, "")).strip().lower()
    if choice:
        kind = choice.split(":")[0]
        if kind not in _KNOWN:
            raise ValueError(
                f"unknown device {choice!r} (from {'the argument' if prefer else DEVICE_ENV_VAR}); "
                f"expected one of {', '.join(_KNOWN)} or 'cuda:N'"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} was requested but CUDA is not available here")
        if kind == "mps" and not _mps_available():
            raise RuntimeError(f"device {choice!r} was requested but Apple MPS is not available here")
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def float64_device(device: torch.device | str) -> torch.device:
    """``device`` if it computes in float64, else the CPU: Apple's MPS has no float64, so the
    chapters' float64 checks run on the CPU there."""
    device = torch.device(device)
    return torch.device("cpu") if device.type == "mps" else device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def describe_device(device: torch.device | None = None) -> str:
    """One line for the top of a notebook: which device, and its name for a GPU."""
    device = device or get_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


@contextmanager
def cpu_threads(n: int):
    """Run the ``with`` block on ``n`` CPU threads, then go back to the previous number.

    Small operations done one after another (a recurrent network's steps) run faster on one
    thread than on several that spend their time waiting for each other; large matrix
    products (a Transformer's) gain from every core. Only the CPU is affected.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
