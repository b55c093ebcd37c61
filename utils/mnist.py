"""MNIST from its original IDX files, for learners who have them. Nothing here downloads anything.

The IDX format (LeCun et al.) is a 4-byte magic number, one 4-byte size per dimension, then
the values in row-major order; every multi-byte number is big-endian. The magic number is
two zero bytes, a type code (0x08 = unsigned byte, ...) and the number of dimensions, so the
images file starts with 0x00000803 = 2051 and the labels file with 0x00000801 = 2049.
Fashion-MNIST uses the same files and names, so :func:`load_mnist` reads it too.
"""
import gzip
import math
from pathlib import Path

import numpy as np
import torch

IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, rows, columns)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)
MNIST_FILES = {"train": "train-{}-idx{}-ubyte", "test": "t10k-{}-idx{}-ubyte"}


def read_idx(path: str | Path, expected_magic: int | None = None) -> torch.Tensor:
    """Read one IDX file, plain or gzipped (recognised by its content, not its name).

    Returns a tensor of the shape the header gives, in the dtype its type code names
    (uint8, int8, int16, int32, float32 or float64). Raises ``ValueError`` if the magic
    number is not an IDX one (or not ``expected_magic``), or if the data are shorter or
    longer than the header promises.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # the gzip signature
        raw = gzip.decompress(raw)
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX file (4-byte magic number first)")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number {magic:#010x}; expected two zero bytes, a type "
            f"code ({', '.join(f'{c:#04x}' for c in IDX_DTYPES)}) and the number of dimensions"
        )
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: expected magic number {expected_magic} ({expected_magic:#010x}), "
                         f"got {magic} ({magic:#010x})")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: header cut short: {ndim} dimensions need {header_size} bytes, got {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[type_code])
    expected_bytes = math.prod(shape) * dtype.itemsize
    if len(raw) - header_size != expected_bytes:
        raise ValueError(f"{path}: the header promises shape {shape} ({expected_bytes} bytes of data), "
                         f"but the file holds {len(raw) - header_size}")
    values = np.frombuffer(raw, dtype, offset=header_size).reshape(shape)
    return torch.from_numpy(values.astype(dtype.newbyteorder("=")))  # native byte order, a copy


def load_mnist(root: str | Path, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST (or Fashion-MNIST) from the IDX files in ``root``, named as distributed.

    ``split="train"`` reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``,
    ``"test"`` the ``t10k-`` pair; each may also be gzipped (``.gz``). Returns ``X``
    (N, 1, 28, 28) float32 with pixels scaled from 0..255 to [0, 1], and ``y`` (N,) int64.
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    images = read_idx(_find(Path(root), MNIST_FILES[split].format("images", 3)), IMAGES_MAGIC)
    labels = read_idx(_find(Path(root), MNIST_FILES[split].format("labels", 1)), LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
    return images.unsqueeze(1).float() / 255, labels.long()


def _find(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {name} or {name}.gz in {root}: the course never downloads data, "
                            f"so put the MNIST files there yourself")
