"""The hidden tests bite: an answer with a small, typical bug loses points.

Each case plants one bug in an instructor solution (a one-line change in one answer cell) and
runs the notebook as the autograder would, hidden tests included, up to that task's test cell:
that test cell must fail, which costs its points. The bugs are the ones students make: a
missing epsilon or zero guard, a forgotten edge case, an off-by-one in a convention. Running in
process (not through nbgrader) keeps each case to about a second; `tests/test_exercises.py`
checks separately that nbgrader grades the real submissions.
"""
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]

# (assignment, answer cell's grade_id, line as the solution has it, the buggy line, what is wrong)
BUGS = [
    ("ex01_foundations", "mse", "return 2 * (y_hat - y) / y_hat.numel()", "return 2 * (y_hat - y) / y_hat.shape[0]",
     "mse_grad divides by the rows, not by all elements"),
    ("ex01_foundations", "mlp_forward", "if k < len(weights) - 1:", "if True:", "ReLU after the last layer too"),
    ("ex01_foundations", "sigmoid", "return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))",
     "return torch.where(z > 0, 1 / (1 + e), e / (1 + e)) * (z != 0)", "sigmoid(0) = 0"),
    ("ex02_backprop_optimization", "adam_step", "return param - lr * m_hat / (v_hat.sqrt() + eps), m, v",
     "return param - lr * m_hat / v_hat.sqrt(), m, v", "Adam without epsilon: 0 / 0 on a zero gradient"),
    ("ex02_backprop_optimization", "adam_step", "m_hat = m / (1 - beta1**t)", "m_hat = m", "no bias correction of m"),
    ("ex02_backprop_optimization", "cross_entropy", "return (probs - one_hot) / len(y)", "return probs - one_hot",
     "gradient not averaged over the batch"),
    ("ex02_backprop_optimization", "numerical_gradient", "flat_grad[i] = (plus - minus) / (2 * h)",
     "flat_grad[i] = (plus - minus) / h", "central difference divided by h, not 2h"),
    ("ex03_training_deep_networks", "batchnorm_train", "y = gamma * (x - mean) / torch.sqrt(var + eps) + beta",
     "y = gamma * (x - mean) / torch.sqrt(var) + beta", "batch norm without epsilon: 0 / 0 on a constant feature"),
    ("ex03_training_deep_networks", "batchnorm_train", "var.detach() * n / (n - 1)", "var.detach()",
     "running variance not unbiased"),
    ("ex03_training_deep_networks", "inverted_dropout", "return x * mask.to(x.dtype) / (1 - p)",
     "return x * mask.to(x.dtype) / p",
     "scaled by 1/p instead of 1/(1 - p), which agrees at p = 0.5"),
    ("ex03_training_deep_networks", "precision_recall_f1",
     "return torch.where(b > 0, a / b.clamp_min(1), torch.zeros_like(a))", "return a / b",
     "precision and recall without the zero-division guard"),
    ("ex04_convolutional_networks", "sizes", "if H + 2 * P < F:", "if H < F:", "the fit check ignores padding"),
    ("ex04_convolutional_networks", "conv_loops", "y[k, i, j] = (w[k] * patch).sum() + b[k]",
     "y[k, i, j] = (w[k] * patch).sum()", "bias forgotten"),
    ("ex04_convolutional_networks", "max_pool", "return x.reshape(N, C, H // k, k, W // k, k).amax(dim=(3, 5))",
     "return x.reshape(N, C, H // k, k, W // k, k).clamp_min(0).amax(dim=(3, 5))",
     "a running maximum that starts at 0"),
    ("ex05_recurrent_networks", "clip", "scale = max_norm / (total + 1e-6)", "scale = max_norm / total.item()",
     "clipping without the zero guard: division by zero on zero gradients"),
    ("ex05_recurrent_networks", "clip", "scale = max_norm / (total + 1e-6)", "scale = max_norm / total",
     "clipping without the 1e-6 of the rule"),
    ("ex05_recurrent_networks", "sample", "probs = torch.softmax(logits / temperature, dim=-1)",
     "probs = torch.softmax(logits * temperature, dim=-1)", "temperature multiplies instead of dividing"),
    ("ex05_recurrent_networks", "sample", "if not temperature > 0:", "if temperature == 0:",
     "a negative temperature accepted"),
    ("ex07_attention_transformers", "positional_encoding",
     "position = torch.arange(length, dtype=torch.float32)[:, None]",
     "position = torch.arange(1, length + 1, dtype=torch.float32)[:, None]", "positions counted from 1"),
    ("ex05_recurrent_networks", "sequence_loss", "return loss, loss / math.log(2)", "return loss, loss / math.log(10)",
     "wrong logarithm for bits"),
    ("ex07_attention_transformers", "attention", "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])",
     "scores = q @ k.transpose(-2, -1)", "no scaling by sqrt(d_k)"),
    ("ex07_attention_transformers", "attention", "scores = scores.masked_fill(~mask, float(\"-inf\"))",
     "scores = scores.masked_fill(mask, float(\"-inf\"))", "the mask convention inverted"),
    ("ex07_attention_transformers", "heads", "return x.view(B, T, H, E // H).transpose(1, 2)",
     "return x.view(B, H, T, E // H)", "heads cut across positions"),
    ("ex07_attention_transformers", "block", "causal_mask(x.shape[1], x.device))", "None)",
     "a Transformer block without its causal mask"),
]


def _cells(assignment):
    return nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4).cells


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _answer_cell(cells, grade_id):
    """The index of the answer cell named ``grade_id``."""
    matches = [i for i, c in enumerate(cells)
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code" and _grade_id(c) == grade_id]
    assert len(matches) == 1, f"expected one answer cell named {grade_id!r}, found {len(matches)}"
    return matches[0]


def points_lost(cells, upto: int) -> tuple[int, list[str]]:
    """Run the code cells up to and including the graded test cell after index ``upto`` in one
    namespace, as the autograder does; return the points of the graded cells that raised."""
    namespace, lost, failures = {"__name__": "__main__"}, 0, []
    last = next(i for i in range(upto + 1, len(cells)) if cells[i].metadata.get("nbgrader", {}).get("grade")
                and not cells[i].metadata["nbgrader"].get("solution"))
    for cell in cells[:last + 1]:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        try:
            exec(compile(cell.source, str(_grade_id(cell)), "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - a failing test cell is what we look for
            if meta.get("grade") and not meta.get("solution"):
                lost += meta.get("points", 0)
                failures.append(f"{_grade_id(cell)}: {type(error).__name__}: {error}")
    return lost, failures


@pytest.mark.parametrize("assignment, grade_id, line, bug, what", BUGS, ids=[f"{b[0][:4]}-{b[4]}" for b in BUGS])
def test_a_planted_bug_loses_points(assignment, grade_id, line, bug, what):
    cells = _cells(assignment)
    i = _answer_cell(cells, grade_id)
    assert cells[i].source.count(line) == 1, f"the solution no longer has the line {line!r}: update this case"
    lost, _ = points_lost(cells, i)
    assert lost == 0, "the instructor's solution itself fails a test"
    cells[i].source = cells[i].source.replace(line, bug)
    lost, failures = points_lost(cells, i)
    assert lost > 0, f"{assignment}: the bug '{what}' earns full marks; add a hidden test that catches it"
