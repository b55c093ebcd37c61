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
from torch.utils._python_dispatch import TorchDispatchMode


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
    Python function, a whole module or package of Python code (``utils.gan``, ``torch.optim``),
    or an operator (``torch.ops.aten.huber_loss``). Run only the answer inside the block and
    compute the references outside it::

        expected = cell(x, (h, c))
        with forbid("torch.nn.LSTMCell", "torch.lstm_cell", task="Task 1"):
            got = lstm_step(x, h, c, ...)

    Nothing is patched: the block is a PyTorch function mode, which sees every PyTorch call
    while it is active (whatever name the answer imported it under) and checks the function
    called and the Python code it is called from, together with a dispatch mode, which sees
    every operator that runs. A forbidden function's operators (``_OPERATORS``) are refused
    however they are reached (``torch.ops.aten``, ``torch._C``, an in-place Tensor method), and
    forbidding autograd refuses any backward pass run inside the block. A use that the answer
    catches and hides still fails the block when it ends, and so does switching the modes off.
    The message names the forbidden function the answer called (the outermost one when a forbidden
    function runs another, as ``F.max_pool2d`` runs ``F.max_pool2d_with_indices``) or, for an
    operator reached through an unlisted function, the rule and that function.
    Only PyTorch is watched: NumPy and SciPy calls are not seen (tests that forbid a PyTorch
    function can also forbid ``torch.Tensor.numpy``, the way from a tensor to NumPy).
    """
    return _Forbidden([(name, _resolve(name)) for name in names], task)


# The operators behind forbidden functions, which an answer can call without the function's
# name (``torch.ops.aten.sigmoid``, ``torch._convolution``, ``x.sigmoid_()``) or reach through a
# sibling (``F.conv3d`` runs ``convolution``). In-place and ``out`` forms are covered by name.
_OPERATOR_GROUPS = [
    (("torch.sigmoid", "torch.Tensor.sigmoid", "torch.special.expit", "torch.nn.Sigmoid"), ("sigmoid",)),
    (("torch.nn.functional.logsigmoid",), ("log_sigmoid", "log_sigmoid_forward")),
    (("torch.nn.functional.mse_loss", "torch.nn.MSELoss"), ("mse_loss",)),
    (("torch.nn.functional.huber_loss",), ("huber_loss",)),
    (("torch.nn.functional.smooth_l1_loss",), ("smooth_l1_loss",)),
    (("torch.nn.functional.nll_loss",), ("nll_loss", "nll_loss_nd", "nll_loss2d", "nll_loss_forward")),
    (("torch.nn.functional.log_softmax", "torch.log_softmax"), ("log_softmax", "_log_softmax")),
    (("torch.nn.functional.layer_norm",), ("layer_norm", "native_layer_norm")),
    (("torch.nn.functional.group_norm",), ("group_norm", "native_group_norm")),
    (("torch.nn.functional.instance_norm",), ("instance_norm",)),
    (("torch.nn.functional.cross_entropy", "torch._C._nn.cross_entropy_loss", "torch.nn.CrossEntropyLoss"),
     ("cross_entropy_loss",)),
    (("torch.nn.functional.batch_norm", "torch.batch_norm", "torch.nn.BatchNorm1d"),
     ("batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
      "_native_batch_norm_legit_no_training", "_batch_norm_impl_index", "_batch_norm_with_update",
      "_batch_norm_no_update", "cudnn_batch_norm", "miopen_batch_norm")),
    (("torch.nn.functional.dropout", "torch.dropout"), ("dropout", "native_dropout", "feature_dropout")),
    (("torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d"),
     ("convolution", "_convolution", "_convolution_mode", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
      "conv_transpose2d", "conv_transpose3d", "conv_tbc", "mkldnn_convolution", "_slow_conv2d_forward",
      "thnn_conv2d", "slow_conv3d")),
    (("torch.nn.functional.max_pool2d", "torch.max_pool2d", "torch.nn.MaxPool2d"),
     ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
      "max_pool3d_with_indices", "mkldnn_max_pool2d", "quantized_max_pool2d", "adaptive_max_pool1d",
      "adaptive_max_pool2d", "adaptive_max_pool3d", "fractional_max_pool2d", "fractional_max_pool3d")),
    (("torch.nn.RNN", "torch.nn.RNNCell", "torch.rnn_tanh", "torch.rnn_tanh_cell"),
     ("rnn_tanh", "rnn_tanh_cell", "rnn_relu", "rnn_relu_cell")),
    (("torch.nn.LSTM", "torch.nn.LSTMCell", "torch.lstm", "torch.lstm_cell"),
     ("lstm", "lstm_cell", "_thnn_fused_lstm_cell", "mkldnn_rnn_layer", "_cudnn_rnn")),
    (("torch.nn.GRU", "torch.nn.GRUCell", "torch.gru", "torch.gru_cell"), ("gru", "gru_cell", "_thnn_fused_gru_cell")),
    (("torch.nn.functional.binary_cross_entropy_with_logits", "torch.binary_cross_entropy_with_logits",
      "torch.nn.BCEWithLogitsLoss"), ("binary_cross_entropy_with_logits",)),
    (("torch.nn.functional.kl_div", "torch.nn.KLDivLoss"), ("kl_div",)),
    (("torch.nn.functional.scaled_dot_product_attention", "torch.nn.MultiheadAttention",
      "torch.nn.functional.multi_head_attention_forward"),
     ("scaled_dot_product_attention", "_scaled_dot_product_attention_math", "_scaled_dot_product_flash_attention",
      "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_efficient_attention",
      "_scaled_dot_product_cudnn_attention", "_native_multi_head_attention", "_transformer_encoder_layer_fwd")),
]
_OPERATORS = {name: operators for names, operators in _OPERATOR_GROUPS for name in names}
_AUTOGRAD = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.autograd")


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


def _closure(function):
    """The values a function's closure holds, or None: functions made by one factory share their
    code and differ only there (torch's ``boolean_dispatch`` makes ``F.max_pool1d``,
    ``F.max_pool2d``, ``F.adaptive_max_pool2d``, ... from one ``fn``)."""
    return tuple(cell.cell_contents for cell in function.__closure__) if function.__closure__ else None


def _runs(frame, closure) -> bool:
    """Whether ``frame`` runs the function whose closure is ``closure`` (its code already matched)."""
    if closure is None:
        return True
    values = frame.f_locals  # a function's free variables are among its frame's locals
    return all(name in values and values[name] is value for name, value in zip(frame.f_code.co_freevars, closure))


def _operator(function) -> str | None:
    """The operator a call runs, by its base name (``sigmoid`` for ``aten::sigmoid_.out``), if
    ``function`` is an operator, a builtin PyTorch function or method, or one of PyTorch's Python
    functions, which are named after the operator they run (``F.adaptive_max_pool2d``)."""
    if isinstance(function, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        name = function._schema.name if isinstance(function, torch._ops.OpOverload) else function._qualified_op_name
        name = name.split("::")[-1]
    elif not hasattr(function, "__name__") or (
            hasattr(function, "__code__") and not (getattr(function, "__module__", None) or "").startswith("torch.")):
        return None
    else:
        name = function.__name__
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


def _describe(function) -> str:
    """The dotted name of what an answer called: ``torch.ops.aten.conv3d``, ``torch.Tensor.sigmoid_``,
    ``torch.conv3d``, ``torch.nn.functional.adaptive_max_pool2d``."""
    if isinstance(function, torch._ops.OpOverload):
        return "torch.ops." + function._schema.name.replace("::", ".")
    if isinstance(function, torch._ops.OpOverloadPacket):
        return "torch.ops." + function._qualified_op_name.replace("::", ".")
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    owner = "torch.Tensor" if module is None and qualname.startswith("TensorBase.") else module or "torch"
    return f"{owner}.{getattr(function, '__name__', function)}"


class _Forbidden(TorchFunctionMode):
    def __init__(self, targets, task: str):
        super().__init__()
        self.task, self.used = task, []
        self.functions = [(target, name) for name, target in targets]  # matched by identity
        # Matched against the code a call comes from: code -> [(closure, rule)], module file -> rule,
        # package folder -> rule.
        self.codes, self.files, self.folders = {}, {}, {}
        self.operators = {}  # an operator's base name -> the rule
        for name, target in targets:
            if isinstance(target, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
                self.operators[_operator(target)] = name
            if isinstance(target, types.ModuleType):
                self.files[target.__file__] = name
                for folder in getattr(target, "__path__", []):  # a package: every file in its folders
                    self.folders[os.path.join(folder, "")] = name
            elif isinstance(target, type):
                for member in vars(target).values():
                    function = _unwrap(getattr(member, "__func__", member))
                    if hasattr(function, "__code__"):
                        self.codes.setdefault(function.__code__, []).append((_closure(function), name))
            elif hasattr(target, "__code__"):
                function = _unwrap(target)
                self.codes.setdefault(function.__code__, []).append((_closure(function), name))
            for operator in _OPERATORS.get(name, ()):  # named after the first rule that covers it
                self.operators.setdefault(operator, name)
        self.autograd = next((name for name, _ in targets if name in _AUTOGRAD), None)
        self.dispatch = _ForbiddenOperators(self)

    def __enter__(self):
        self.entry = sys._getframe(1)  # the frame of the with statement: the answer runs below it
        super().__enter__()
        self.dispatch.__enter__()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # The answer may have popped a mode (and then ours would pop someone else's): check first.
        switched_off = not (_top(torch.utils._python_dispatch._get_current_dispatch_mode_stack()) is self.dispatch
                            and _top(torch.overrides._get_current_function_mode_stack()) is self)
        if switched_off:
            _remove_mode(self.dispatch, torch.utils._python_dispatch._get_current_dispatch_mode_stack,
                         torch.utils._python_dispatch._pop_mode, torch.utils._python_dispatch._push_mode)
            _remove_mode(self, torch.overrides._get_current_function_mode_stack,
                         torch._C._pop_torch_function_stack, torch._C._push_on_torch_function_stack)
            raise ForbiddenCallError(f"{self.task}: your answer switched off the check of what it may use "
                                     "(a PyTorch mode was removed); write the answer without touching the modes")
        self.dispatch.__exit__(exc_type, exc_value, traceback)
        super().__exit__(exc_type, exc_value, traceback)
        if self.used and not (exc_type and issubclass(exc_type, ForbiddenCallError)):
            raise ForbiddenCallError(self.used[0])

    def __torch_function__(self, func, arg_types, args=(), kwargs=None):
        self.check(func, next((n for f, n in self.functions if f is func), None))
        return func(*args, **(kwargs or {}))

    def check(self, called, rule: str | None):
        """Refuse a call to ``called`` if it, or code that makes it, is forbidden. The message names
        what the answer itself called: the outermost forbidden function on the stack
        (``F.max_pool2d``, not the ``max_pool2d_with_indices`` it dispatches to), else ``rule``
        (``called`` by name), else the rule whose operator ``called`` runs, with what ran it."""
        name = self._caller_rule() or rule
        if name:
            self.refuse(self._message(name))
        sibling = self.operators.get(_operator(called))
        if sibling:
            through = _describe(called)
            self.refuse(self._message(sibling) + (f" (through {through})" if through != sibling else ""))

    def refuse(self, message: str):
        self.used.append(message)
        raise ForbiddenCallError(message)

    def _caller_rule(self):
        """The forbidden name whose code makes this call, the outermost one if several do."""
        found, frame = None, sys._getframe(1)
        while frame is not None and frame is not self.entry:
            found = self._frame_rule(frame) or found
            frame = frame.f_back
        return found

    def _frame_rule(self, frame):
        """The forbidden name whose code ``frame`` runs, if any (this module's frames: the check)."""
        file = frame.f_code.co_filename
        if file == __file__:
            return None
        return (next((name for closure, name in self.codes.get(frame.f_code, ()) if _runs(frame, closure)), None)
                or self.files.get(file)
                or next((name for folder, name in self.folders.items() if file.startswith(folder)), None))

    def _message(self, name: str) -> str:
        return f"{self.task} asks you not to use {name} (the tests compare your answer with it), but your answer used it"


def _remove_mode(mode, stack, pop, push):
    """Take ``mode`` off its stack wherever it is, keeping the modes above it: a block whose check
    was switched off must not leave its rules in force for the code that runs after it."""
    if not any(m is mode for m in stack()):
        return
    above = []
    while (top := pop()) is not mode:
        above.append(top)
    for other in reversed(above):
        push(other)


def _top(stack):
    return stack[-1] if stack else None


class _ForbiddenOperators(TorchDispatchMode):
    """The operators that run inside the block, however the answer reached them: a forbidden
    function's operators, any operator while the PyTorch function mode is switched off, and any
    operator the autograd engine runs (a backward pass) when autograd is forbidden."""

    def __init__(self, rules: _Forbidden):
        super().__init__()
        self.rules = rules

    def __torch_dispatch__(self, func, arg_types, args=(), kwargs=None):
        if self.rules.operators.get(_operator(func)):
            self.rules.check(func, None)
        name = None
        if self.rules.autograd and torch._C._current_graph_task_id() != -1:
            name = self.rules.autograd
        elif torch._C._is_torch_function_all_disabled():
            name = "torch._C.DisableTorchFunction (it switches off the check of what your answer uses)"
        if name:
            self.rules.refuse(self.rules._message(name))
        return func(*args, **(kwargs or {}))


def _warning_to_stdout(message, category, filename, lineno, file=None, line=None):
    """Show a warning on stdout, where nbgrader does not count it against a test cell."""
    print(f"[warning, not an error: it costs no points] {category.__name__}: {message} ({filename}:{lineno})",
          file=sys.stdout)


warnings.showwarning = _warning_to_stdout
