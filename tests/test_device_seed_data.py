"""Device choice, seeding and the offline data helpers."""
import random

import numpy as np
import pytest
import torch

import utils.device
from utils import Standardizer, get_device, load_diabetes, load_digits, make_loader, set_seed, train_test_split


def _available(monkeypatch, cuda: bool, mps: bool) -> None:
    """Pretend this machine has (or lacks) CUDA and Apple MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(utils.device, "_mps_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_device_defaults_to_best_available(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    _available(monkeypatch, cuda, mps)
    assert get_device() == torch.device(expected)


def test_environment_variable_or_argument_overrides_the_default(monkeypatch):
    _available(monkeypatch, cuda=True, mps=True)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda:1")
    assert get_device() == torch.device("cuda", 1)
    assert get_device("mps") == torch.device("mps")  # the argument wins over the variable


def test_unknown_or_missing_device_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        get_device()
    _available(monkeypatch, cuda=False, mps=False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        get_device("cuda")
    with pytest.raises(RuntimeError, match="Apple MPS is not available"):
        get_device("mps")


def test_set_seed_seeds_random_numpy_and_torch():
    """After set_seed(s), each library's next draws are those of a fresh generator seeded s."""
    def draws():
        return random.random(), np.random.rand(3), torch.randn(4)

    def fresh(seed):
        return (random.Random(seed).random(), np.random.RandomState(seed % 2**32).rand(3),
                torch.randn(4, generator=torch.Generator().manual_seed(seed)))

    for seed in (3, 2**40):  # NumPy takes seeds below 2**32 only
        draws()  # move every stream on first
        set_seed(seed)
        ours, expected = draws(), fresh(seed)
        assert ours[0] == expected[0], "random"
        assert np.array_equal(ours[1], expected[1]), "numpy"
        assert torch.equal(ours[2], expected[2]), "torch"


def test_set_seed_returns_its_own_torch_generator():
    g = set_seed(3)
    torch.randn(5)  # the global stream moves on; g's does not
    assert torch.equal(torch.randn(2, generator=g), torch.randn(2, generator=torch.Generator().manual_seed(3)))
    for bad in (1.5, True, "3"):
        with pytest.raises(TypeError, match="seed must be an int"):
            set_seed(bad)


def test_bundled_data_sets_have_documented_shapes():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == torch.float32 and 0 <= X.min() and X.max() <= 1
    assert y.shape == (1797,) and y.dtype == torch.int64 and set(y.tolist()) == set(range(10))
    X, y, names = load_diabetes()
    assert X.shape == (442, 10) and y.shape == (442, 1) and len(names) == 10


def test_split_is_deterministic_disjoint_and_complete():
    X = torch.arange(100).float().unsqueeze(1)
    y = torch.arange(100)
    a = train_test_split(X, y, test_fraction=0.25, seed=1)
    b = train_test_split(X, y, test_fraction=0.25, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    X_tr, X_te, y_tr, y_te = a
    assert len(X_te) == 25 and len(X_tr) == 75
    assert sorted(y_tr.tolist() + y_te.tolist()) == list(range(100))
    assert not torch.equal(a[1], train_test_split(X, y, 0.25, seed=2)[1])
    with pytest.raises(ValueError, match="same number of rows"):
        train_test_split(X, y[:5])


def test_standardizer_uses_training_statistics():
    X = torch.randn(200, 3) * torch.tensor([1.0, 5.0, 0.1]) + 7
    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    torch.testing.assert_close(Z.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(Z.std(0), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaler.inverse_transform(Z), X)


def test_loader_shuffles_reproducibly_and_covers_every_row():
    X, y = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    first = [yb.tolist() for _, yb in make_loader(X, y, batch_size=4, seed=5)]
    again = [yb.tolist() for _, yb in make_loader(X, y, batch_size=4, seed=5)]
    assert first == again and sorted(sum(first, [])) == list(range(10))
    assert sum(first, []) != list(range(10))


def test_cpu_threads_sets_and_restores_even_after_an_error():
    from utils.device import cpu_threads

    before = torch.get_num_threads()
    with pytest.raises(KeyError):
        with cpu_threads(1):
            assert torch.get_num_threads() == 1
            raise KeyError("inside")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="at least 1"):
        with cpu_threads(0):
            pass
