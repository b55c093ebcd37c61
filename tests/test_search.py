"""Grid, random and Optuna search: they spend the budget, respect the ranges, and find good points."""
import math

import pytest
from sklearn.model_selection import ParameterGrid

from utils.search import (Choice, IntRange, LogUniform, SearchResult, Uniform, grid_search, optuna_search,
                          random_search)

SPACE = {"lr": LogUniform(1e-4, 1.0), "momentum": Uniform(0.0, 0.99)}


def bowl(params):
    return (math.log10(params["lr"]) + 2) ** 2 + (params["momentum"] - 0.9) ** 2


def test_grid_is_the_cartesian_product_of_its_axes():
    result = grid_search(bowl, SPACE, n_trials=16, progress=False)
    axes = {"lr": LogUniform(1e-4, 1.0).grid(4), "momentum": Uniform(0.0, 0.99).grid(4)}
    assert len(result.params) == 16
    as_set = lambda ps: {tuple(sorted(p.items())) for p in ps}
    assert as_set(result.params) == as_set(ParameterGrid(axes))
    assert math.isclose(axes["lr"][0], 1e-4) and math.isclose(axes["lr"][-1], 1.0)


def test_grid_with_choices_lists_every_option():
    result = grid_search(lambda p: p["n"], {"act": Choice(("relu", "tanh")), "n": IntRange(1, 9)}, 6, progress=False)
    assert len(result.params) == 6 and {p["act"] for p in result.params} == {"relu", "tanh"}


def test_random_search_is_seeded_and_stays_in_range():
    a = random_search(bowl, SPACE, 30, seed=1, progress=False)
    b = random_search(bowl, SPACE, 30, seed=1, progress=False)
    assert a.params == b.params
    assert all(1e-4 <= p["lr"] <= 1 and 0 <= p["momentum"] <= 0.99 for p in a.params)
    assert len({p["lr"] for p in a.params}) == 30  # every trial tries a new learning rate


def test_best_so_far_and_the_best_trial_on_known_values():
    result = SearchResult(params=[{"i": i} for i in range(7)], values=[3.0, 5.0, 1.0, 2.0, 1.0, 0.5, 0.7])
    assert result.best_so_far() == [3.0, 3.0, 1.0, 1.0, 1.0, 0.5, 0.5]
    assert result.best_index == 5 and result.best_value == 0.5 and result.best_params == {"i": 5}
    tied = SearchResult(params=[{"i": 0}, {"i": 1}, {"i": 2}], values=[2.0, 1.0, 1.0])
    assert tied.best_index == 1  # the first trial that reached the best value


def test_best_so_far_of_a_search_is_the_running_minimum():
    result = random_search(bowl, SPACE, 20, seed=0, progress=False)
    assert result.best_so_far() == [min(result.values[:n]) for n in range(1, 21)]
    assert result.best_value == min(result.values) == bowl(result.best_params)


def test_optuna_tpe_beats_its_random_start_on_a_smooth_objective():
    result = optuna_search(bowl, SPACE, 40, seed=0, progress=False)
    assert len(result.values) == 40
    assert result.best_value < 0.05
    assert min(result.values[10:]) < min(result.values[:10])  # TPE's trials found a better point


def test_bad_spaces_are_rejected():
    with pytest.raises(ValueError, match="0 < low < high"):
        LogUniform(0, 1)
    with pytest.raises(TypeError, match="expected LogUniform"):
        random_search(bowl, {"lr": (0.1, 1)}, 3)
    with pytest.raises(ValueError, match="n_trials"):
        grid_search(bowl, SPACE, 0)
