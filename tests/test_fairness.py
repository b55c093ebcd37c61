"""Group rates and fairness gaps, against counts done by hand."""
import math

import pytest
import torch

from utils.fairness import fairness_gaps, group_rates, make_two_group_data


def test_group_rates_by_hand():
    y_true = torch.tensor([1, 1, 0, 0, 1, 0, 0, 0])
    y_pred = torch.tensor([1, 0, 1, 0, 1, 1, 1, 0])
    group = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    rates = group_rates(y_true, y_pred, group)
    assert rates[0] == {"n": 4, "base_rate": 0.5, "error": 0.5, "selection": 0.5, "tpr": 0.5, "fpr": 0.5}
    assert rates[1] == {"n": 4, "base_rate": 0.25, "error": 0.5, "selection": 0.75, "tpr": 1.0, "fpr": 2 / 3}
    gaps = fairness_gaps(rates)
    assert gaps["demographic parity"] == pytest.approx(0.25)
    assert gaps["equal opportunity"] == pytest.approx(0.5)
    assert gaps["equalized odds"] == pytest.approx(0.5)
    assert gaps["error rate"] == 0


def test_a_group_without_positives_has_an_undefined_tpr():
    rates = group_rates(torch.tensor([0, 0, 1]), torch.tensor([1, 0, 1]), torch.tensor([1, 1, 0]))
    assert math.isnan(rates[1]["tpr"]) and rates[1]["fpr"] == 0.5


def test_random_predictions_are_roughly_fair():
    X, y, group = make_two_group_data(20_000, minority_fraction=0.3, seed=0)
    y_pred = torch.randint(2, (20_000,), generator=torch.Generator().manual_seed(1))
    assert all(gap < 0.05 for gap in fairness_gaps(group_rates(y, y_pred, group)).values())


def test_the_synthetic_groups_follow_different_rules():
    X, y, group = make_two_group_data(5_000, minority_fraction=0.2, seed=0)
    assert 0.15 < group.float().mean() < 0.25
    majority_rule = ((X[:, 0] + X[:, 1]) > 0).long()
    assert (majority_rule[group == 0] == y[group == 0]).float().mean() > 0.85
    assert (majority_rule[group == 1] == y[group == 1]).float().mean() < 0.65
    minority_rule = ((X[:, 0] - X[:, 1]) > 0).long()
    assert 0.45 < (majority_rule != minority_rule).float().mean() < 0.55  # opposite on |x_1| > |x_0|
    base_rates = [y[group == g].float().mean() for g in (0, 1)]
    assert all(0.45 < b < 0.55 for b in base_rates)


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="binary"):
        group_rates(torch.tensor([0, 2]), torch.tensor([0, 1]), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        group_rates(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="shape"):
        group_rates(torch.tensor([0, 1]), torch.tensor([0, 1, 1]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="two groups"):
        fairness_gaps({0: {}, 1: {}, 2: {}})
