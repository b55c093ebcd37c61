"""Few-label draws and the linear probe, against counts and against scikit-learn."""
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


def test_linear_probe_matches_unpenalised_logistic_regression():
    # Overlapping classes: the loss has a unique minimum in the predicted probabilities.
    generator = torch.Generator().manual_seed(0)
    y = torch.randint(3, (300,), generator=generator)
    features = torch.randn(300, 4, generator=generator, dtype=torch.float64) + 0.8 * F.one_hot(y, 4)
    set_seed(0)
    head = linear_probe(features, y, num_classes=3)
    reference = LogisticRegression(penalty=None, tol=1e-10, max_iter=10_000).fit(features.numpy(), y.numpy())
    with torch.no_grad():
        ours = F.softmax(head(features), dim=1)
        loss = F.cross_entropy(head(features), y).item()
    best = torch.from_numpy(reference.predict_proba(features.numpy()))
    assert not head.training
    assert loss == pytest.approx(-best[torch.arange(300), y].log().mean().item(), abs=1e-8)
    torch.testing.assert_close(ours, best, atol=1e-4, rtol=0)


def test_linear_probe_fits_separable_examples():
    features = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0], [2.5, 0.5], [0.5, 2.5], [-2.5, -1.5]])
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    set_seed(0)
    head = linear_probe(features, y, num_classes=3)
    with torch.no_grad():
        scores = head(features)
    assert torch.equal(scores.argmax(1), y)
    assert F.cross_entropy(scores, y) < 1e-3


def test_linear_probe_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="labels must lie"):
        linear_probe(torch.randn(4, 2), torch.tensor([0, 1, 2, 3]), num_classes=3)
