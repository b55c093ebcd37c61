"""Offline data: the data sets that ship inside scikit-learn, split and batched reproducibly.

Nothing here downloads anything: ``load_digits`` and ``load_diabetes`` are files inside the
scikit-learn package itself.
"""
import torch
from torch.utils.data import DataLoader, TensorDataset

from .checks import check_tensor


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 handwritten 8x8 digits bundled with scikit-learn.

    Returns ``X`` (1797, 64) float32 with pixels scaled from 0..16 to [0, 1], and ``y``
    (1797,) int64 class labels 0..9. ``X.view(-1, 8, 8)`` gives the images.
    """
    from sklearn import datasets  # imported here: it takes a second, and most imports of utils never need it

    bunch = datasets.load_digits()
    X = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    return X, y


def load_diabetes() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """scikit-learn's diabetes regression set (Efron et al. 2004), 442 patients.

    Returns ``X`` (442, 10) float32 (age, sex, BMI, blood pressure and six blood serum
    measurements, already centred and scaled by scikit-learn), ``y`` (442, 1) float32 (a
    measure of disease progression one year later) and the feature names.
    """
    from sklearn import datasets

    bunch = datasets.load_diabetes()
    X = torch.tensor(bunch.data, dtype=torch.float32)
    y = torch.tensor(bunch.target, dtype=torch.float32).unsqueeze(1)
    return X, y, list(bunch.feature_names)


def train_test_split(
    X: torch.Tensor, y: torch.Tensor, test_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle the rows with a seeded generator and cut off the last ``test_fraction``.

    Shapes: X (N, ...), y (N, ...) -> X_train, X_test, y_train, y_test. The same seed
    always gives the same split, whatever else the notebook has drawn at random.
    """
    check_tensor(X, "X")
    check_tensor(y, "y")
    if len(X) != len(y):
        raise ValueError(f"X and y need the same number of rows, got {len(X)} and {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    n_test = max(1, round(test_fraction * len(X)))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


class Standardizer:
    """Feature scaling z = (x - mean) / std, with mean and std taken from the training set only.

    Fitting on the test set too would leak information about it into the model.
    Shapes: fit on (N, D); transform (M, D) -> (M, D).
    """

    def fit(self, X: torch.Tensor) -> "Standardizer":
        check_tensor(X, "X", shape=("N", "D"), dtype="floating")
        self.mean = X.mean(dim=0)
        self.std = X.std(dim=0).clamp_min(1e-8)  # a constant column would divide by zero
        return self

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        check_tensor(X, "X", shape=("N", len(self.mean)), dtype="floating")
        return (X - self.mean) / self.std

    def inverse_transform(self, Z: torch.Tensor) -> torch.Tensor:
        return Z * self.std + self.mean


def make_loader(
    X: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = True, seed: int = 0
) -> DataLoader:
    """A ``DataLoader`` over in-memory tensors; with ``shuffle`` the order is seeded."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, generator=generator)
