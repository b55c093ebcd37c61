"""Classification metrics from labels: the confusion matrix, precision, recall, F1, the PR curve.

Conventions follow scikit-learn's (``sklearn.metrics``): confusion-matrix rows are the true
class and columns the predicted class; a ratio whose denominator is 0 is reported as 0.
"""
import torch

from .checks import check_tensor

AVERAGES = ("none", "macro", "micro", "weighted", "binary")


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int | None = None) -> torch.Tensor:
    """Counts M[i, j] = #{n : y_true[n] = i and y_pred[n] = j}.

    Shapes: y_true (N,), y_pred (N,) integer labels in 0..C-1 -> M (C, C) int64, with
    C = ``num_classes`` (default: 1 + the largest label seen). The diagonal holds the correct
    predictions; row i sums to the number of examples of class i.
    """
    _check_labels(y_true, y_pred)
    if num_classes is None:
        num_classes = int(max(y_true.max(), y_pred.max()).item()) + 1 if len(y_true) else 0
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    flat = y_true.long() * num_classes + y_pred.long()
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


def precision_recall_f1(cm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class scores from a confusion matrix (C, C) -> three (C,) float64 tensors.

    For class c: TP = M[c, c], FP = sum_i M[i, c] - TP (predicted c, was not),
    FN = sum_j M[c, j] - TP (was c, predicted otherwise);
        precision = TP / (TP + FP),  recall = TP / (TP + FN),
        F1 = 2 precision recall / (precision + recall) = 2 TP / (2 TP + FP + FN).
    True negatives appear nowhere: F1 ignores them.
    """
    check_tensor(cm, "cm", shape=("C", "C"))
    cm = cm.double()
    tp = cm.diagonal()
    predicted, actual = cm.sum(dim=0), cm.sum(dim=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, actual)
    f1 = _safe_divide(2 * tp, predicted + actual)
    return precision, recall, f1


def precision_recall_f1_score(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int | None = None,
                              average: str = "macro", pos_label: int = 1):
    """Precision, recall and F1 from labels, averaged like ``sklearn.metrics.precision_recall_fscore_support``.

    ``average``: "none" (three (C,) tensors), "macro" (unweighted mean over classes: every
    class counts the same, however rare), "weighted" (mean weighted by each class's support),
    "micro" (from the summed counts; equals accuracy for single-label problems) or "binary"
    (the scores of class ``pos_label`` only). Returns floats unless ``average="none"``.
    """
    if average not in AVERAGES:
        raise ValueError(f"unknown average {average!r}; expected one of {AVERAGES}")
    cm = confusion_matrix(y_true, y_pred, num_classes)
    precision, recall, f1 = precision_recall_f1(cm)
    if average == "none":
        return precision, recall, f1
    if average == "binary":
        return precision[pos_label].item(), recall[pos_label].item(), f1[pos_label].item()
    if average == "micro":
        tp, n = cm.diagonal().sum().double(), cm.sum().double()
        score = _safe_divide(tp, n).item()  # every error is one FP and one FN
        return score, score, score
    if average == "weighted":
        support = cm.sum(dim=1).double()
        weights = support / support.sum()
        return tuple((s * weights).sum().item() for s in (precision, recall, f1))
    return precision.mean().item(), recall.mean().item(), f1.mean().item()


def precision_recall_curve(y_true: torch.Tensor, scores: torch.Tensor):
    """Precision and recall of "positive if score >= t" for every distinct score t.

    Shapes: y_true (N,) of 0/1, scores (N,) float -> precision (T + 1,), recall (T + 1,),
    thresholds (T,) increasing; the last point (precision 1, recall 0) is the empty
    prediction, as in ``sklearn.metrics.precision_recall_curve`` (which also drops
    intermediate points only with ``drop_intermediate=True``).
    """
    check_tensor(scores, "scores", shape=("N",), dtype="floating")
    check_tensor(y_true, "y_true", shape=(len(scores),))
    if not torch.isin(y_true, torch.tensor([0, 1], device=y_true.device)).all():
        raise ValueError("y_true: expected binary labels 0 and 1")
    order = torch.argsort(scores, descending=True, stable=True)
    s, y = scores[order], y_true[order].double()
    last_of_each = torch.cat([s[1:] != s[:-1], torch.ones(1, dtype=torch.bool, device=s.device)])
    tps = torch.cumsum(y, 0)[last_of_each]  # positives among the examples with score >= t
    fps = torch.cumsum(1 - y, 0)[last_of_each]
    thresholds = s[last_of_each]
    precision = _safe_divide(tps, tps + fps)
    recall = tps / tps[-1] if tps[-1] > 0 else torch.ones_like(tps)
    one, zero = precision.new_ones(1), precision.new_zeros(1)
    return torch.cat([precision.flip(0), one]), torch.cat([recall.flip(0), zero]), thresholds.flip(0)


def _safe_divide(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(b > 0, a / b.clamp_min(1e-300), torch.zeros_like(a))


def _check_labels(y_true: torch.Tensor, y_pred: torch.Tensor) -> None:
    check_tensor(y_true, "y_true", shape=("N",))
    check_tensor(y_pred, "y_pred", shape=(len(y_true),), device=y_true.device)
    for name, t in (("y_true", y_true), ("y_pred", y_pred)):
        if t.is_floating_point() or t.is_complex():
            raise TypeError(f"{name}: expected integer class labels, got {t.dtype}")
