"""Few-label draws and the linear probe, against counts and against scikit-learn."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from utils.seed import set_seed
from utils.transfer import few_labels, linear_probe


def test_few_labels_draws_k_of_each_class_reproducibly():
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 2])
    index = few_labels(y, 2, seed=3)
    assert len(index) == 6 and len(index.unique()) == 6
    assert y[index].tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(index, few_labels(y, 2, seed=3))
    draws = {tuple(few_labels(y, 2, seed=s).tolist()) for s in range(10)}
    assert len(draws) > 1


def test_few_labels_rejects_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        few_labels(torch.tensor([0, 1]), 0, seed=0)
    with pytest.raises(TypeError, match="y"):
        few_labels(torch.tensor([0.0, 1.0]), 1, seed=0)


def test_linear_probe_without_penalty_matches_unpenalised_logistic_regression():
    # Overlapping classes: the unpenalised loss has a unique minimum in the predicted probabilities.
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(3, (300,), generator=generator)
    features = torch.randn(300, 4, generator=generator, dtype=torch.float64) + 0.8 * F.one_hot(y, 4)
    set_seed(0)
    head = linear_probe(features, y, num_classes=3, l2=0.0)
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(features.numpy(), y.numpy())
    with torch.no_grad():
        ours = F.softmax(head(features), dim=1)
        loss = F.cross_entropy(head(features), y).item()
    best = torch.from_numpy(reference.predict_proba(features.numpy()))
    assert not head.training
    assert loss == pytest.approx(-best[torch.arange(300), y].log().mean().item(), abs=1e-8)
    torch.testing.assert_close(ours, best, atol=1e-4, rtol=0)


@pytest.mark.parametrize("num_classes", [2, 4])
def test_linear_probe_matches_l2_logistic_regression_on_separable_examples(num_classes):
    # Few examples in many dimensions, as in chapter 10: separable, so only the penalty gives
    # the loss a minimum. scikit-learn minimises C sum_n loss_n + ||W||^2 / 2, hence C = 1 / (l2 N).
    # With two classes it fits one vector w = W_1 - W_0, and at the softmax head's minimum
    # W_0 = -W_1, so ||W||_F^2 = ||w||^2 / 2: the same fit needs C = 2 / (l2 N).
    generator = torch.Generator().manual_seed(1)
    y = torch.arange(num_classes).repeat(3)
    features = torch.randn(len(y), 16, generator=generator, dtype=torch.float64) + 2 * F.one_hot(y, 16)
    l2 = 1e-3
    set_seed(0)
    head = linear_probe(features, y, num_classes, l2=l2)
    c = (2 if num_classes == 2 else 1) / (l2 * len(y))
    reference = LogisticRegression(C=c, tol=1e-12, max_iter=100_000).fit(features.numpy(), y.numpy())
    coef = torch.from_numpy(reference.coef_)
    with torch.no_grad():
        scores = head(features)
        weight = head.weight if num_classes > 2 else (head.weight[1] - head.weight[0]).unsqueeze(0)
    assert torch.equal(scores.argmax(1), y)
    torch.testing.assert_close(F.softmax(scores, dim=1), torch.from_numpy(reference.predict_proba(features.numpy())),
                               atol=1e-4, rtol=0)
    # The weights themselves agree: a bounded minimiser, not wherever the solver stopped.
    torch.testing.assert_close(weight, coef, atol=2e-3 * coef.norm().item(), rtol=0)


def test_linear_probe_rejects_bad_input():
    with pytest.raises(ValueError, match="labels must lie"):
        linear_probe(torch.randn(4, 2), torch.tensor([0, 1, 2, 3]), num_classes=3)
    with pytest.raises(ValueError, match="l2 must be"):
        linear_probe(torch.randn(4, 2), torch.tensor([0, 1, 2, 0]), num_classes=3, l2=-1.0)
