"""Input checks whose error messages say what was expected and what came.

A learner who passes a (N,) tensor where (N, 1) was meant should read
``x: expected shape (N, 1), got (32,)``, not a broadcasting bug three cells later.
"""
from collections.abc import Sequence

import torch

Dim = int | str | None  # an int must match; a str names a free dimension; None is free


def check_tensor(
    x,
    name: str,
    *,
    shape: Sequence[Dim] | None = None,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Raise a clear error unless ``x`` is a tensor of the given shape, dtype and device.

    ``shape`` lists the expected sizes, e.g. ``("N", 4)``: ints must match exactly, names
    and ``None`` match any size. ``dtype="floating"`` accepts any floating dtype.
    Returns ``x`` so a check can sit inline.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if shape is not None:
        wanted = _format_shape(shape)
        if x.dim() != len(shape) or any(
            isinstance(s, int) and s != actual for s, actual in zip(shape, x.shape)
        ):
            raise ValueError(f"{name}: expected shape {wanted}, got {tuple(x.shape)}")
    if dtype == "floating":
        if not x.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got {x.dtype}")
    elif dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {x.dtype}")
    if device is not None and x.device.type != torch.device(device).type:
        raise ValueError(
            f"{name}: expected a tensor on {torch.device(device).type}, got one on {x.device.type} "
            f"(move it with .to(device))"
        )
    return x


def check_same_device(**tensors: torch.Tensor) -> None:
    """Raise if the named tensors do not all live on one device."""
    devices = {name: t.device for name, t in tensors.items()}
    if len({d.type for d in devices.values()}) > 1:
        listed = ", ".join(f"{name} on {d}" for name, d in devices.items())
        raise ValueError(f"expected all tensors on one device, got {listed}")


def _format_shape(shape: Sequence[Dim]) -> str:
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
