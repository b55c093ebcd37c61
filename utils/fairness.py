"""Measuring whether a classifier treats two groups alike: per-group rates and the usual gaps.

For binary labels y, predictions y_hat and a group attribute g (0 or 1): base rate
P(y = 1 | g), selection rate P(y_hat = 1 | g), true-positive rate P(y_hat = 1 | y = 1, g),
false-positive rate P(y_hat = 1 | y = 0, g) and error rate P(y_hat != y | g). Demographic
(statistical) parity asks for equal selection rates (Dwork et al., 2012), equal opportunity for
equal true-positive rates, equalized odds for equal true- and false-positive rates (Hardt et
al., 2016).
"""
import torch

from .checks import check_tensor


def make_two_group_data(n: int, minority_fraction: float = 0.1, seed: int = 0
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A synthetic, deliberately biased data set: X (n, 2), y (n,) in {0, 1}, group (n,) in {0, 1}.

    Both groups have the same features, x ~ N(0, I), but the label follows a different rule:
    y = 1 when x_0 + x_1 > 0 in the majority (group 0), when x_0 - x_1 > 0 in the minority
    (group 1), with 10% of labels flipped at random. The rules agree where |x_0| > |x_1| and
    give opposite labels elsewhere (half of the feature space); each labels half the space
    positive, so both groups have the base rate P(y = 1 | g) = 1/2 in expectation. A model fit
    to the pooled data without the group learns mostly the majority's rule.
    """
    if not 0 < minority_fraction < 1:
        raise ValueError(f"minority_fraction must lie strictly between 0 and 1, got {minority_fraction}")
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 2, generator=generator)
    group = (torch.rand(n, generator=generator) < minority_fraction).long()
    score = torch.where(group == 0, X[:, 0] + X[:, 1], X[:, 0] - X[:, 1])
    flip = torch.rand(n, generator=generator) < 0.1
    y = ((score > 0) ^ flip).long()
    return X, y, group


def _rate(events: torch.Tensor, given: torch.Tensor) -> float:
    """P(event | given), NaN when nothing is given (e.g. a group without positives)."""
    return events[given].double().mean().item() if given.any() else float("nan")


def group_rates(y_true: torch.Tensor, y_pred: torch.Tensor, group: torch.Tensor) -> dict[int, dict[str, float]]:
    """For each value of ``group``: its size, its base rate P(y = 1 | g) and its error, selection,
    true- and false-positive rates.

    Shapes: y_true, y_pred, group (N,) integer tensors, labels in {0, 1}.
    """
    for name, t in (("y_true", y_true), ("y_pred", y_pred), ("group", group)):
        check_tensor(t, name, shape=(len(y_true),))
        if t.is_floating_point():
            raise TypeError(f"{name}: expected an integer or bool tensor, got {t.dtype}")
    if not ((y_true == 0) | (y_true == 1)).all() or not ((y_pred == 0) | (y_pred == 1)).all():
        raise ValueError("y_true and y_pred must hold binary labels 0 and 1")
    rates = {}
    for g in group.unique().tolist():
        member = group == g
        rates[g] = {
            "n": int(member.sum()),
            "base_rate": _rate(y_true == 1, member),
            "error": _rate(y_pred != y_true, member),
            "selection": _rate(y_pred == 1, member),
            "tpr": _rate(y_pred == 1, member & (y_true == 1)),
            "fpr": _rate(y_pred == 1, member & (y_true == 0)),
        }
    return rates


def fairness_gaps(rates: dict[int, dict[str, float]]) -> dict[str, float]:
    """Differences between two groups' rates (from :func:`group_rates`), as absolute values:
    demographic parity (selection rates), equal opportunity (TPR), equalized odds (the larger
    of the TPR and FPR gaps) and the error-rate gap. 0 means parity on that criterion.
    """
    if len(rates) != 2:
        raise ValueError(f"expected the rates of exactly two groups, got {len(rates)}")
    a, b = rates.values()
    gap = {key: abs(a[key] - b[key]) for key in ("selection", "tpr", "fpr", "error")}
    return {"demographic parity": gap["selection"], "equal opportunity": gap["tpr"],
            "equalized odds": max(gap["tpr"], gap["fpr"]), "error rate": gap["error"]}
