"""Checks for exercise tests: each failure says what was expected and what came.

They check the exact type first (``type(x) is torch.Tensor``): a tensor subclass or an object
that overrides ``__eq__`` or ``__torch_function__`` could otherwise make any comparison pass.
"""
import torch


def assert_tensor_close(actual, expected: torch.Tensor, name: str, atol: float = 1e-6, rtol: float = 1e-5):
    """Fail unless ``actual`` is a plain tensor with ``expected``'s shape, dtype and values."""
    if type(actual) is not torch.Tensor:
        raise AssertionError(f"{name}: expected a torch.Tensor, got {type(actual).__name__}")
    if tuple(actual.shape) != tuple(expected.shape):
        raise AssertionError(f"{name}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}")
    if actual.dtype != expected.dtype:
        raise AssertionError(f"{name}: expected dtype {expected.dtype}, got {actual.dtype}")
    a, e = actual.detach().cpu(), expected.detach().cpu()
    if not torch.equal(torch.isfinite(a), torch.isfinite(e)):
        raise AssertionError(f"{name}: expected finite values where the reference is finite (got inf or nan)")
    if not torch.allclose(a, e, atol=atol, rtol=rtol, equal_nan=True):
        worst = (a - e).abs().nan_to_num(0).max().item()
        raise AssertionError(f"{name}: values differ from the reference (largest difference {worst:.3g})")


def assert_raises(error: type[BaseException], function, *args, name: str = "", **kwargs):
    """Fail unless ``function(*args, **kwargs)`` raises ``error`` (e.g. ValueError on a bad shape)."""
    try:
        function(*args, **kwargs)
    except error:
        return
    except Exception as other:  # the wrong exception is a failure too, with a clear message
        raise AssertionError(f"{name or function.__name__}: expected {error.__name__}, got {type(other).__name__}: {other}")
    raise AssertionError(f"{name or function.__name__}: expected {error.__name__}, but nothing was raised")
