"""Random shifts move each image by a whole pixel or two and nothing else."""
import pytest
import torch
import torch.nn.functional as F

from utils.augment import AugmentedLoader, random_shift
from utils.data import make_loader


def shifted_by(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The images moved down by dy and right by dx, zeros shifted in (a slow reference)."""
    h, w = images.shape[-2:]
    s = max(abs(dy), abs(dx))
    padded = F.pad(images, (s, s, s, s))
    return padded[..., s - dy: s - dy + h, s - dx: s - dx + w]


def test_each_image_is_one_allowed_shift_of_itself(device):
    images = torch.rand(64, 2, 6, 5, device=device)
    out = random_shift(images, max_shift=1, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.device == images.device
    seen = set()
    for k in range(len(images)):
        matches = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(out[k], shifted_by(images[k], dy, dx))]
        assert len(matches) == 1, f"image {k} is not a single shift of its input"
        seen.add(matches[0])
    assert len(seen) == 9  # 64 draws hit every one of the 9 offsets


def test_zero_shift_is_the_identity_and_negative_is_an_error():
    images = torch.rand(3, 1, 8, 8)
    assert torch.equal(random_shift(images, max_shift=0), images)
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_shift(images, max_shift=-1)


def test_same_generator_seed_gives_the_same_shifts():
    images = torch.rand(16, 1, 8, 8)
    a = random_shift(images, 2, torch.Generator().manual_seed(3))
    b = random_shift(images, 2, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_augmented_loader_transforms_inputs_and_keeps_labels():
    X, y = torch.rand(10, 1, 4, 4), torch.arange(10)
    loader = AugmentedLoader(make_loader(X, y, batch_size=4, shuffle=False), lambda x: -x)
    assert len(loader) == 3
    batches = list(loader)
    assert torch.equal(torch.cat([xb for xb, _ in batches]), -X)
    assert torch.equal(torch.cat([yb for _, yb in batches]), y)
    assert len(list(loader)) == 3  # can be iterated again, epoch after epoch
