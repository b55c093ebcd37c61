"""The exercises' test helpers (utils/testing.py): `forbid` enforces a task's "do not call X",
and warnings reach stdout, where nbgrader does not score them.

That both hold under the real autograder (its guard runs test cells against private copies of
torch and of these helpers) is checked end to end in tests/test_exercises.py (`h_forbidden`,
`g_warns`)."""
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.nn.functional import binary_cross_entropy_with_logits as imported_bce

from utils.testing import ForbiddenCallError, assert_tensor_close, forbid

from .exercise_helpers import REPO

AUTOGRAD = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward")


def _lstm_inputs():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(3, 4)
    return cell, torch.randn(2, 3), (torch.zeros(2, 4), torch.zeros(2, 4))


def _sgd_step(module):
    for p in module.parameters():
        p.grad = torch.ones_like(p)
    torch.optim.SGD(module.parameters(), lr=0.1).step()


@pytest.mark.parametrize("use, names, named", [
    (lambda cell, x, state: cell(x, state), ("torch.nn.LSTMCell",), "torch.nn.LSTMCell"),
    (lambda cell, x, state: torch.nn.LSTMCell(3, 4), ("torch.nn.LSTMCell",), "torch.nn.LSTMCell"),
    # the function behind nn.LSTMCell, reached through torch._VF
    (lambda cell, x, state: torch._VF.lstm_cell(x, state, cell.weight_ih, cell.weight_hh),
     ("torch.lstm_cell",), "torch.lstm_cell"),
    # imported under another name before the block
    (lambda cell, x, state: imported_bce(x, torch.ones_like(x)),
     ("torch.nn.functional.binary_cross_entropy_with_logits",), "torch.nn.functional.binary_cross_entropy_with_logits"),
    (lambda cell, x, state: torch.nn.BCEWithLogitsLoss()(x, torch.ones_like(x)),
     ("torch.nn.functional.binary_cross_entropy_with_logits",), "torch.nn.functional.binary_cross_entropy_with_logits"),
    (lambda cell, x, state: cell(x, state)[0].sum().backward(), AUTOGRAD, "torch.Tensor.backward"),
    (lambda cell, x, state: torch.autograd.grad(cell(x, state)[0].sum(), x.requires_grad_()), AUTOGRAD,
     "torch.autograd.grad"),
    (lambda cell, x, state: torch.func.grad(lambda t: (t * t).sum())(x), AUTOGRAD, "torch.autograd.grad"),
    # a whole module of Python code: any PyTorch call made from it
    (lambda cell, x, state: __import__("utils.gan").gan.generator_loss(x), ("utils.gan",), "utils.gan"),
    # a package of Python code: any PyTorch call made from one of its files
    (lambda cell, x, state: _sgd_step(cell), ("torch.optim",), "torch.optim"),
    # a Python function behind a decorator
    (lambda cell, x, state: torch.nn.utils.clip_grad_norm_(cell.parameters(), 1.0), ("torch.nn.utils.clip_grad_norm_",),
     "torch.nn.utils.clip_grad_norm_"),
    # the operators behind a function, reached without its name
    # (the message names the rule and what the answer called)
    (lambda cell, x, state: torch.ops.aten.sigmoid(x), ("torch.sigmoid",), "torch.sigmoid through torch.ops.aten.sigmoid"),
    (lambda cell, x, state: x.clone().sigmoid_(), ("torch.sigmoid",), "torch.sigmoid through torch.Tensor.sigmoid_"),
    (lambda cell, x, state: torch.ops.aten.lstm_cell(x, list(state), cell.weight_ih, cell.weight_hh),
     ("torch.lstm_cell",), "torch.lstm_cell through torch.ops.aten.lstm_cell"),
    (lambda cell, x, state: torch.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5),
     ("torch.nn.functional.batch_norm",), "torch.nn.functional.batch_norm through torch.native_batch_norm"),
    (lambda cell, x, state: torch.nn.functional.conv3d(x[None, None, None], torch.ones(1, 1, 1, 1, 1)),
     ("torch.nn.functional.conv2d",), "torch.nn.functional.conv2d through torch.conv3d"),
    (lambda cell, x, state: torch.ops.aten.huber_loss(x, x), ("torch.ops.aten.huber_loss",), "torch.ops.aten.huber_loss"),
    # a backward pass run by the autograd engine directly
    (lambda cell, x, state: torch.autograd.Variable._execution_engine.run_backward(
        (cell(x, state)[0].sum(),), (torch.tensor(1.0),), False, False, (), True, True), AUTOGRAD, "torch.autograd.grad"),
], ids=["module call", "module created", "torch._VF", "imported name", "loss module", "backward", "autograd.grad",
        "torch.func", "python module", "package", "decorated function", "torch.ops", "in-place method",
        "composite operator", "native operator", "sibling function", "operator by name", "autograd engine"])
def test_a_forbidden_use_raises_with_the_rule(use, names, named):
    cell, x, state = _lstm_inputs()
    with pytest.raises(ForbiddenCallError) as raised:
        with forbid(*names, task="Task 2"):
            use(cell, x, state)
    assert str(raised.value) == _message(named)


def _message(named: str) -> str:
    """The message for ``"rule"``, or ``"rule through called"`` when the answer reached the rule's
    operator through another function."""
    rule, _, through = named.partition(" through ")
    return (f"Task 2 asks you not to use {rule} (the tests compare your answer with it), but your answer used it"
            + (f" (through {through})" if through else ""))


MAX_POOL = "torch.nn.functional.max_pool2d"


@pytest.mark.parametrize("names, use, named", [
    # F.max_pool2d(..., return_indices=True) runs F.max_pool2d_with_indices: the answer called the first
    ((f"{MAX_POOL}_with_indices", MAX_POOL), lambda x: F.max_pool2d(x, 2, return_indices=True), MAX_POOL),
    ((MAX_POOL, "torch.nn.MaxPool2d"), lambda x: torch.nn.MaxPool2d(2)(x), "torch.nn.MaxPool2d"),
    # siblings of a forbidden function (torch's boolean_dispatch makes them from one function)
    ((MAX_POOL,), lambda x: F.max_pool2d_with_indices(x, 2), f"{MAX_POOL} through {MAX_POOL}_with_indices"),
    ((MAX_POOL,), lambda x: F.max_pool1d(x[0], 2), f"{MAX_POOL} through torch.nn.functional.max_pool1d"),
    ((MAX_POOL,), lambda x: F.adaptive_max_pool2d(x, 2), f"{MAX_POOL} through torch.nn.functional.adaptive_max_pool2d"),
], ids=["dispatched to a forbidden function", "module and its function", "with_indices", "max_pool1d", "adaptive"])
def test_the_message_names_the_forbidden_function_the_answer_called(names, use, named):
    with pytest.raises(ForbiddenCallError) as raised:
        with forbid(*names, task="Task 2"):
            use(torch.randn(1, 1, 4, 4))
    assert str(raised.value) == _message(named)


@pytest.mark.parametrize("names, use", [
    (("torch.nn.functional.max_pool1d",), lambda x: F.max_pool2d(x, 2)),
    (("torch.nn.functional.adaptive_max_pool2d",), lambda x: F.max_pool2d(x, 2, return_indices=True)),
    (("torch.nn.functional.max_pool1d",), lambda x: F.fractional_max_pool2d(x, 2, output_size=1)),
], ids=["max_pool1d", "adaptive_max_pool2d", "fractional_max_pool2d"])
def test_a_function_made_by_the_same_factory_as_a_forbidden_one_is_allowed(names, use):
    """F.max_pool1d and F.max_pool2d are both torch's boolean_dispatch ``fn`` (one code, different
    closures): forbidding one must not refuse, or name, the other."""
    with forbid(*names, task="Task 2"):
        use(torch.randn(1, 1, 4, 4))


def test_other_calls_run_unchanged_inside_the_block():
    cell, x, state = _lstm_inputs()
    weights = cell.weight_ih.detach()
    for p in cell.parameters():
        p.grad = 2 * torch.ones_like(p)
    with forbid("torch.nn.LSTMCell", "torch.lstm_cell", "torch.nn.utils.clip_grad_norm_", *AUTOGRAD, task="Task 1"):
        with torch.no_grad():
            inside = torch.sigmoid(x @ weights.T).tanh()
        torch.nn.utils.clip_grad_value_(cell.parameters(), 1.0)  # the same decorator as clip_grad_norm_
    assert torch.equal(inside, torch.sigmoid(x @ weights.T).tanh())
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in cell.parameters())


def test_the_rule_is_lifted_when_the_block_ends_even_by_an_error():
    cell, x, state = _lstm_inputs()
    functional_before = F.binary_cross_entropy_with_logits
    with pytest.raises(ForbiddenCallError):
        with forbid("torch.nn.LSTMCell", "torch.nn.functional.binary_cross_entropy_with_logits", task="Task 1"):
            cell(x, state)
    assert F.binary_cross_entropy_with_logits is functional_before  # nothing was patched
    h, c = cell(x, state)  # allowed again after the block
    assert h.shape == (2, 4) and torch.isfinite(F.binary_cross_entropy_with_logits(x, torch.ones_like(x)))


def test_a_use_the_answer_catches_still_fails_the_block():
    cell, x, state = _lstm_inputs()

    def hides_it():
        try:
            return cell(x, state)
        except Exception:
            return None

    with pytest.raises(ForbiddenCallError, match="torch.nn.LSTMCell"):
        with forbid("torch.nn.LSTMCell", task="Task 1"):
            hides_it()


def test_a_name_that_does_not_exist_is_an_error_at_once():
    with pytest.raises(ValueError, match="'torch.no_such_function' names no module, class or function"):
        forbid("torch.no_such_function", task="Task 1")


def test_warnings_go_to_stdout_once_the_helpers_are_imported():
    code = "import warnings\nimport utils.testing\nwarnings.warn('a library changed its mind')\n"
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert "[warning, not an error: it costs no points] UserWarning: a library changed its mind" in run.stdout


def test_a_wrong_boolean_mask_fails_with_the_difference_not_a_crash():
    with pytest.raises(AssertionError, match="values differ from the reference"):
        assert_tensor_close(torch.ones(3, 3, dtype=torch.bool).triu(), torch.ones(3, 3, dtype=torch.bool).tril(), "mask")


@pytest.mark.parametrize("escape", [
    lambda: torch._C._pop_torch_function_stack(),
    lambda: torch._C._pop_torch_dispatch_stack(None),
], ids=["function mode popped", "dispatch mode popped"])
def test_an_answer_that_removes_the_check_fails_the_block(escape):
    with pytest.raises(ForbiddenCallError, match="switched off the check"):
        with forbid("torch.sigmoid", task="Task 1"):
            escape()
            torch.sigmoid(torch.zeros(2))


def test_a_use_with_torch_function_disabled_still_fails():
    with pytest.raises(ForbiddenCallError, match="DisableTorchFunction"):
        with forbid("torch.nn.LSTMCell", task="Task 1"):
            with torch._C.DisableTorchFunction():
                torch.zeros(2) + 1


def test_a_switched_off_block_leaves_no_rule_behind():
    """The block fails, and its modes leave the stacks: otherwise the rule stays in force for every
    later test in the process (it once failed torch.sigmoid in test_activations.py)."""
    for switch_off in (torch.utils._python_dispatch._pop_mode, torch._C._pop_torch_function_stack):
        with pytest.raises(ForbiddenCallError):
            with forbid("torch.sigmoid", task="Task 1"):
                switch_off()
    torch.sigmoid(torch.zeros(2))
    assert not torch.overrides._get_current_function_mode_stack()
    assert not torch.utils._python_dispatch._get_current_dispatch_mode_stack()
