"""Checks for exercise tests: each failure says what was expected and what came.

They check the exact type first (``type(x) is torch.Tensor``): a tensor subclass or an object
that overrides ``__eq__`` or ``__torch_function__`` could otherwise make any comparison pass.

:func:`forbid` enforces a task's "do not call X" while the answer runs in a test. Importing this
module (every exercise's set-up cell does) also sends warnings to stdout, with a line saying
they cost nothing: nbgrader scores any stderr output of a test cell as zero, so a library's
deprecation warning would otherwise fail a correct answer.
"""
import importlib
import inspect
import os
import sys
import types
import warnings

import torch
from torch.overrides import TorchFunctionMode


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
        worst = (a.double() - e.double()).abs().nan_to_num(0).max().item()  # bool and int too
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


class ForbiddenCallError(AssertionError):
    """An answer used what its task asks it not to use (the reference the tests compare with)."""


def forbid(*names: str, task: str) -> "_Forbidden":
    """A ``with`` block in which using any of ``names`` fails with a message naming the rule.

    ``names`` are dotted names: a PyTorch function or method (``torch.nn.functional.softmax``,
    ``torch.Tensor.backward``), a class (``torch.nn.LSTMCell``: creating or calling one), a
    Python function, or a whole module or package of Python code (``utils.gan``,
    ``torch.optim``). Run only the answer inside the block and compute the references outside
    it::

        expected = cell(x, (h, c))
        with forbid("torch.nn.LSTMCell", "torch.lstm_cell", task="Task 1"):
            got = lstm_step(x, h, c, ...)

    Nothing is patched: the block is a PyTorch function mode, which sees every PyTorch call
    while it is active (whatever name the answer imported it under) and checks the function
    called and the Python code it is called from. A use that the answer catches and hides still
    fails the block when it ends.
    """
    return _Forbidden([(name, _resolve(name)) for name in names], task)


def _resolve(name: str):
    """The object a dotted name stands for (the longest importable prefix, then attributes)."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for part in parts[split:]:
                target = getattr(target, part)
        except AttributeError:
            break
        return target
    raise ValueError(f"forbid: {name!r} names no module, class or function")


def _unwrap(function):
    """The function a decorator wrapped (whose code runs the body): decorators such as
    ``torch.nn.utils.clip_grad_norm_``'s share one wrapper code among many functions."""
    return inspect.unwrap(function) if callable(function) else function


class _Forbidden(TorchFunctionMode):
    def __init__(self, targets, task: str):
        super().__init__()
        self.task, self.used = task, []
        self.functions = [(target, name) for name, target in targets]  # matched by identity
        self.codes, self.files, self.folders = {}, {}, {}  # matched against the code a call comes from
        for name, target in targets:
            if isinstance(target, types.ModuleType):
                self.files[target.__file__] = name
                for folder in getattr(target, "__path__", []):  # a package: every file in its folders
                    self.folders[os.path.join(folder, "")] = name
            elif isinstance(target, type):
                for member in vars(target).values():
                    code = getattr(_unwrap(getattr(member, "__func__", member)), "__code__", None)
                    if code is not None:
                        self.codes[code] = name
            elif hasattr(target, "__code__"):
                self.codes[_unwrap(target).__code__] = name

    def __enter__(self):
        self.entry = sys._getframe(1)  # the frame of the with statement: the answer runs below it
        return super().__enter__()

    def __exit__(self, exc_type, exc_value, traceback):
        super().__exit__(exc_type, exc_value, traceback)
        if self.used and not (exc_type and issubclass(exc_type, ForbiddenCallError)):
            raise ForbiddenCallError(self._message(self.used[0]))

    def __torch_function__(self, func, arg_types, args=(), kwargs=None):
        name = next((n for f, n in self.functions if f is func), None) or self._caller_rule()
        if name:
            self.used.append(name)
            raise ForbiddenCallError(self._message(name))
        return func(*args, **(kwargs or {}))

    def _caller_rule(self):
        """The forbidden name whose code makes this call, directly or further up, if any."""
        frame = sys._getframe(2)
        while frame is not None and frame is not self.entry:
            file = frame.f_code.co_filename
            name = (self.codes.get(frame.f_code) or self.files.get(file)
                    or next((n for folder, n in self.folders.items() if file.startswith(folder)), None))
            if name:
                return name
            frame = frame.f_back
        return None

    def _message(self, name: str) -> str:
        return f"{self.task} asks you not to use {name} (the tests compare your answer with it), but your answer used it"


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None):
    """Show a warning on stdout, where nbgrader does not count it against a test cell."""
    print(f"[warning, not an error: it costs no points] {category.__name__}: {message} ({filename}:{lineno})",
          file=sys.stdout)


warnings.showwarning = _warning_to_stdout
