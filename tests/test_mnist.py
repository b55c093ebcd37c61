"""The IDX reader on tiny files written here from the format's definition (never downloaded)."""
import gzip
import struct

import numpy as np
import pytest
import torch

from utils.mnist import load_mnist, read_idx

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding: 0, 0, type code, ndim; one big-endian uint32 per dimension; big-endian data."""
    header = struct.pack(">BBBB", 0, 0, TYPE_CODES[array.dtype.type], array.ndim)
    header += b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray, gzipped: bool = False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


@pytest.fixture
def digits():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), rng.integers(0, 10, 5, dtype=np.uint8)


@pytest.mark.parametrize("gzipped", [False, True])
def test_read_idx_round_trips_images(tmp_path, digits, gzipped):
    images, _ = digits
    path = write_idx(tmp_path / "images-idx3-ubyte", images, gzipped)
    result = read_idx(path, expected_magic=2051)
    assert result.dtype == torch.uint8 and result.shape == (5, 28, 28)
    assert torch.equal(result, torch.from_numpy(images))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_multi_byte_types_are_big_endian(tmp_path, dtype):
    values = np.array([[1, -2, 300], [40000, -5, 6]]).astype(dtype)  # 300, 40000 need the high bytes
    result = read_idx(write_idx(tmp_path / "values.idx", values))
    assert result.shape == (2, 3)
    assert torch.equal(result, torch.from_numpy(values))


@pytest.mark.parametrize("gzipped", [False, True])
def test_load_mnist_scales_pixels_and_keeps_labels(tmp_path, digits, gzipped):
    images, labels = digits
    suffix = ".gz" if gzipped else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gzipped)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gzipped)
    X, y = load_mnist(tmp_path, split="test")
    assert X.shape == (5, 1, 28, 28) and X.dtype == torch.float32
    assert torch.allclose(X[:, 0], torch.from_numpy(images).float() / 255)
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()


def test_corrupted_magic_number_is_a_clear_error(tmp_path, digits):
    data = bytearray(idx_bytes(digits[0]))
    data[0] = 0x42
    path = tmp_path / "corrupted"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not an IDX file: magic number 0x42000803"):
        read_idx(path)


def test_labels_file_in_place_of_images_is_caught_by_its_magic(tmp_path, digits):
    _, labels = digits
    write_idx(tmp_path / "train-images-idx3-ubyte", labels)  # magic 2049, not 2051
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match="expected magic number 2051 .*got 2049"):
        load_mnist(tmp_path)


def test_truncated_file_is_a_clear_error(tmp_path, digits):
    path = tmp_path / "truncated"
    path.write_bytes(idx_bytes(digits[0])[:-10])
    with pytest.raises(ValueError, match=r"promises shape \(5, 28, 28\) \(3920 bytes of data\), but the file holds 3910"):
        read_idx(path)


def test_image_and_label_counts_must_agree(tmp_path, digits):
    images, labels = digits
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:4])
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        load_mnist(tmp_path)


def test_missing_files_are_not_downloaded(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(tmp_path, split="validation")
