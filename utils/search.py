"""Hyper-parameter search: grid, random (Bergstra & Bengio 2012) and Bayesian (Optuna's TPE).

A search space is a dict from names to ranges (:class:`LogUniform`, :class:`Uniform`,
:class:`IntRange`, :class:`Choice`); the objective takes a dict of values and returns a number
to minimise (e.g. a validation loss). All three searches spend exactly the trials they are
given and return a :class:`SearchResult`.
"""
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm.auto import tqdm


@dataclass(frozen=True)
class LogUniform:
    """A positive number drawn uniformly on a log scale (learning rates, weight decay)."""
    low: float
    high: float

    def __post_init__(self):
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))

    def grid(self, k: int) -> list[float]:
        if k == 1:
            return [math.sqrt(self.low * self.high)]
        step = (math.log(self.high) - math.log(self.low)) / (k - 1)
        return [math.exp(math.log(self.low) + i * step) for i in range(k)]

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=True)


@dataclass(frozen=True)
class Uniform:
    """A number drawn uniformly in [low, high]."""
    low: float
    high: float

    def __post_init__(self):
        if not self.low < self.high:
            raise ValueError(f"Uniform needs low < high, got {self.low}, {self.high}")

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def grid(self, k: int) -> list[float]:
        if k == 1:
            return [(self.low + self.high) / 2]
        return [self.low + i * (self.high - self.low) / (k - 1) for i in range(k)]

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high)


@dataclass(frozen=True)
class IntRange:
    """An integer in low..high (both included)."""
    low: int
    high: int

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"IntRange needs low <= high, got {self.low}, {self.high}")

    def sample(self, rng: random.Random) -> int:
        return rng.randint(self.low, self.high)

    def grid(self, k: int) -> list[int]:
        return sorted({round(v) for v in Uniform(self.low, self.high + 1e-9).grid(k)})

    def suggest(self, trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high)


@dataclass(frozen=True)
class Choice:
    """One of a few options (an activation, an optimizer)."""
    options: tuple

    def __post_init__(self):
        if not self.options:
            raise ValueError("Choice needs at least one option")

    def sample(self, rng: random.Random):
        return rng.choice(self.options)

    def grid(self, k: int) -> list:
        return list(self.options)

    def suggest(self, trial, name: str):
        return trial.suggest_categorical(name, list(self.options))


@dataclass
class SearchResult:
    """Every trial's parameters and value, in the order they were run (lower value is better)."""
    params: list[dict] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def best_index(self) -> int:
        return min(range(len(self.values)), key=self.values.__getitem__)

    @property
    def best_params(self) -> dict:
        return self.params[self.best_index]

    @property
    def best_value(self) -> float:
        return self.values[self.best_index]

    def best_so_far(self) -> list[float]:
        """The best value after 1, 2, ..., n trials: the curve to compare searches by."""
        return list(itertools.accumulate(self.values, min))


Objective = Callable[[dict], float]


def grid_search(objective: Objective, space: dict, n_trials: int, progress: bool = True) -> SearchResult:
    """Try every combination of k values per hyper-parameter, k^d <= n_trials (d of them).

    Continuous ranges get k evenly spaced values (log-spaced for :class:`LogUniform`); a
    :class:`Choice` always lists all its options. With a budget of 16 and 2 ranges this is a
    4 x 4 grid: only 4 distinct values of each hyper-parameter are ever tried.
    """
    _check_space(space, n_trials)
    continuous = [name for name, rng in space.items() if not isinstance(rng, Choice)]
    fixed = math.prod(len(rng.options) for rng in space.values() if isinstance(rng, Choice))
    k = 1
    while (k + 1) ** len(continuous) * fixed <= n_trials:
        k += 1
    axes = {name: rng.grid(k) for name, rng in space.items()}
    combos = [dict(zip(axes, values)) for values in itertools.product(*axes.values())][:n_trials]
    return _run(objective, combos, progress, "grid search")


def random_search(objective: Objective, space: dict, n_trials: int, seed: int = 0,
                  progress: bool = True) -> SearchResult:
    """Draw each trial's hyper-parameters independently from their ranges (seeded)."""
    _check_space(space, n_trials)
    rng = random.Random(seed)
    combos = [{name: r.sample(rng) for name, r in space.items()} for _ in range(n_trials)]
    return _run(objective, combos, progress, "random search")


def optuna_search(objective: Objective, space: dict, n_trials: int, seed: int = 0,
                  n_startup_trials: int = 10, progress: bool = True) -> SearchResult:
    """Bayesian optimisation with Optuna's TPE sampler (Bergstra et al. 2011; Akiba et al. 2019).

    TPE splits the trials so far into good and bad ones, models the density of each, l(x)
    and g(x), and proposes the point that maximises l(x) / g(x): near past successes, away
    from past failures. Its first ``n_startup_trials`` trials are random.
    """
    import optuna

    _check_space(space, n_trials)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials))
    result = SearchResult()
    bar = tqdm(total=n_trials, desc="Optuna (TPE)", disable=not progress)

    def wrapped(trial):
        params = {name: r.suggest(trial, name) for name, r in space.items()}
        value = float(objective(params))
        result.params.append(params)
        result.values.append(value)
        bar.update()
        return value

    study.optimize(wrapped, n_trials=n_trials)
    bar.close()
    return result


def _run(objective: Objective, combos: list[dict], progress: bool, desc: str) -> SearchResult:
    result = SearchResult()
    for params in tqdm(combos, desc=desc, disable=not progress):
        result.params.append(params)
        result.values.append(float(objective(params)))
    return result


def _check_space(space: dict, n_trials: int) -> None:
    if not space:
        raise ValueError("the search space is empty")
    for name, rng in space.items():
        if not isinstance(rng, (LogUniform, Uniform, IntRange, Choice)):
            raise TypeError(f"{name}: expected LogUniform, Uniform, IntRange or Choice, got {type(rng).__name__}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
