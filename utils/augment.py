"""Data augmentation: train on randomly altered copies of the inputs that keep their labels."""
import torch
import torch.nn.functional as F

from .checks import check_tensor


def random_shift(images: torch.Tensor, max_shift: int = 1,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Move each image by its own random whole-pixel offset (dy, dx), |dy|, |dx| <= max_shift.

    Shapes: (N, C, H, W) -> (N, C, H, W). Pixels shifted in from outside are 0 (background);
    pixels shifted out are lost. A digit moved by a pixel is still the same digit, so its
    label stays. ``generator`` (on the CPU) makes the offsets reproducible.
    """
    check_tensor(images, "images", shape=("N", "C", "H", "W"))
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    n, _, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    # Every shifted copy, as a view: (N, C, 2*max_shift + 1, 2*max_shift + 1, H, W).
    shifted = padded.unfold(2, h, 1).unfold(3, w, 1)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(images.device)
    return shifted[torch.arange(n, device=images.device), :, dy, dx]


class AugmentedLoader:
    """Wraps a loader so each batch's inputs pass through ``transform`` as they are drawn.

    Every epoch sees freshly transformed copies, while the stored data never change; the
    labels pass through untouched. Works wherever a loader of (x, y) batches does, e.g.
    :func:`utils.train.fit`.
    """

    def __init__(self, loader, transform):
        self.loader, self.transform = loader, transform

    def __iter__(self):
        for x, y in self.loader:
            yield self.transform(x), y

    def __len__(self) -> int:
        return len(self.loader)
