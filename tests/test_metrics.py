"""Metrics against sklearn.metrics on random labels, including classes that never appear."""
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from utils.metrics import confusion_matrix, precision_recall_curve, precision_recall_f1, precision_recall_f1_score


def _labels(device, n=200, c=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y_true = torch.randint(0, c, (n,), generator=g)
    y_pred = torch.where(torch.rand(n, generator=g) < 0.6, y_true, torch.randint(0, c, (n,), generator=g))
    y_pred[y_pred == c - 1] = 0  # class c-1 is never predicted: its precision is 0/0
    return y_true.to(device), y_pred.to(device)


def test_confusion_matrix_matches_sklearn(device):
    y_true, y_pred = _labels(device)
    ours = confusion_matrix(y_true, y_pred, 5)
    assert ours.dtype == torch.int64 and ours.device.type == device.type
    np.testing.assert_array_equal(ours.cpu().numpy(), skm.confusion_matrix(y_true.cpu(), y_pred.cpu(), labels=range(5)))


@pytest.mark.parametrize("average", ["none", "macro", "micro", "weighted"])
def test_precision_recall_f1_match_sklearn(device, average):
    for seed in range(3):
        y_true, y_pred = _labels(device, seed=seed)
        ours = precision_recall_f1_score(y_true, y_pred, 5, average=average)
        ref = skm.precision_recall_fscore_support(y_true.cpu(), y_pred.cpu(), labels=range(5), zero_division=0,
                                                  average=None if average == "none" else average)[:3]
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a.cpu().numpy() if torch.is_tensor(a) else a, b, atol=1e-12)


def test_binary_scores_match_sklearn():
    g = torch.Generator().manual_seed(2)
    y_true = (torch.rand(100, generator=g) < 0.3).long()
    y_pred = torch.where(torch.rand(100, generator=g) < 0.7, y_true, 1 - y_true)
    ours = precision_recall_f1_score(y_true, y_pred, average="binary")
    ref = (skm.precision_score(y_true, y_pred), skm.recall_score(y_true, y_pred), skm.f1_score(y_true, y_pred))
    np.testing.assert_allclose(ours, ref)


def test_f1_ignores_true_negatives():
    cm = torch.tensor([[50, 5], [10, 20]])
    more_negatives = torch.tensor([[5000, 5], [10, 20]])
    assert precision_recall_f1(cm)[2][1] == precision_recall_f1(more_negatives)[2][1]


@pytest.mark.parametrize("ties", [False, True])
def test_precision_recall_curve_matches_sklearn(device, ties):
    g = torch.Generator().manual_seed(4)
    y = (torch.rand(300, generator=g) < 0.2).long()
    scores = torch.rand(300, generator=g, dtype=torch.float64) + 0.5 * y
    if ties:
        scores = (scores * 5).round() / 5
    p, r, t = precision_recall_curve(y.to(device), scores.to(device))
    p_ref, r_ref, t_ref = skm.precision_recall_curve(y.numpy(), scores.numpy())
    for ours, ref in ((p, p_ref), (r, r_ref), (t, t_ref)):
        np.testing.assert_allclose(ours.cpu().numpy(), ref, atol=1e-12)


def test_bad_labels_say_what_was_expected():
    with pytest.raises(TypeError, match="expected integer class labels"):
        confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"y_pred: expected shape \(3,\), got \(2,\)"):
        confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="unknown average"):
        precision_recall_f1_score(torch.tensor([0, 1]), torch.tensor([0, 1]), average="samples")
