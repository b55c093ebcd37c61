"""A character-level text corpus that ships with every Python: the standard library's own source.

Karpathy's char-rnn post trained on the Linux kernel's C source; we train on Python's, which is
on every machine that runs this course, so nothing is downloaded. The corpus is the top-level
modules of the standard library (``os.py``, ``random.py``, ...; packages such as ``json/``
are left out), read in sorted order. Python versions differ slightly in which modules they ship, so sizes
differ a little from one installation to another; everything else here is deterministic.

Pieces: :func:`stdlib_files` (which files), :func:`split_files` (train/validation by file),
:class:`Vocabulary` (characters <-> integer ids, rare characters -> one "unknown" id),
:func:`load_stdlib_corpus` (all of it at once), :func:`random_windows` (training batches) and
:func:`sequential_windows` (the validation text cut into consecutive pieces).
"""
import sysconfig
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .checks import check_tensor

UNKNOWN = "\ufffd"  # "�", Unicode's replacement character: stands for every rare character


def stdlib_files(max_bytes: int | None = 6_000_000) -> list[Path]:
    """The standard library's top-level ``*.py`` files, sorted by name.

    Files are taken in sorted order while their total size stays within ``max_bytes`` (None:
    no limit); the ``_sysconfigdata_*`` module is left out because the build machine
    generated it (it is a dump of compiler flags, not code anyone wrote). The folder is
    ``sysconfig.get_paths()["stdlib"]``, so this works offline on any Python.
    """
    folder = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in folder.glob("*.py") if p.is_file() and not p.name.startswith("_sysconfigdata"))
    if not files:
        raise FileNotFoundError(f"no *.py files in the standard library folder {folder}")
    chosen, total = [], 0
    for path in files:
        size = path.stat().st_size
        if max_bytes is not None and total + size > max_bytes:
            break
        chosen.append(path)
        total += size
    if not chosen:
        raise ValueError(f"max_bytes={max_bytes} is smaller than the first file, {files[0].name}")
    return chosen


def split_files(files: Sequence[Path], val_fraction: float = 0.1) -> tuple[list[Path], list[Path]]:
    """Split files into (train, validation) by a hash of each file's name.

    A file goes to validation when crc32(name) / 2**32 < val_fraction. The split is by
    *file*, not by position in one long text, so no module is half in training and half in
    validation; and a file's side depends only on its own name, so it is the same on every
    machine and Python version that has the file. About ``val_fraction`` of the files (not
    exactly, since it is a hash) go to validation; both sides are guaranteed non-empty.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    if len(files) < 2:
        raise ValueError(f"need at least two files to split, got {len(files)}")
    val = [f for f in files if zlib.crc32(Path(f).name.encode()) / 2**32 < val_fraction]
    train = [f for f in files if f not in val]
    if not val or not train:
        raise ValueError(f"val_fraction={val_fraction} left one side of the split empty; "
                         f"use more files or a fraction nearer 0.5")
    return train, val


def read_files(files: Sequence[Path]) -> str:
    """The files' text, in the given order, each followed by a blank line.

    Read as UTF-8 (the encoding of every standard-library file); an undecodable byte would
    become "�" rather than an error.
    """
    return "".join(Path(f).read_text(encoding="utf-8", errors="replace") + "\n\n" for f in files)


class Vocabulary:
    """Characters <-> integer ids, built from a training text.

    Every character seen at least ``min_count`` times gets its own id, in sorted (code point)
    order after id 0. Id 0 is the unknown character "�" (:data:`UNKNOWN`): every rarer
    character, and every character the training text never contained (e.g. an accented
    letter that only appears in a validation file), is encoded as 0 and decoded as "�". Rare
    characters are merged because a model cannot learn anything useful from a character it
    sees a handful of times, while each one would still cost a row and a column of weights.
    So ``decode(encode(s)) == s`` exactly when every character of ``s`` is in the vocabulary.
    """

    def __init__(self, text: str, min_count: int = 1):
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts = Counter(text)
        kept = sorted(c for c, n in counts.items() if n >= min_count and c != UNKNOWN)
        self.chars: list[str] = [UNKNOWN] + kept
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        self.rare: set[str] = {c for c, n in counts.items() if n < min_count}
        # For fast encoding: the kept code points, sorted, and their ids.
        self._codes = np.array([ord(c) for c in kept], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self.index

    def encode(self, text: str) -> torch.Tensor:
        """A string of length L -> an int64 tensor (L,) of ids; unknown characters -> 0."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._codes, codes)
        pos_clipped = np.minimum(pos, len(self._codes) - 1)
        found = (pos < len(self._codes)) & (self._codes[pos_clipped] == codes)
        return torch.from_numpy(np.where(found, pos_clipped + 1, 0))

    def decode(self, ids) -> str:
        """A 1-D tensor (or list) of ids -> the string they stand for; id 0 -> "�"."""
        if isinstance(ids, torch.Tensor):
            check_tensor(ids, "ids", shape=(None,))
            if ids.is_floating_point() or ids.is_complex():
                raise TypeError(f"ids: expected an integer tensor, got {ids.dtype}")
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= i < len(self.chars)]
        if bad:
            raise ValueError(f"ids must lie in [0, {len(self.chars)}), got {bad[:5]}")
        return "".join(self.chars[i] for i in ids)


@dataclass
class Corpus:
    """Training and validation text, their encodings, and the vocabulary (from training only).

    ``train`` and ``val`` are int64 tensors of shape (L_train,) and (L_val,). The texts and
    tensors are left out of the repr, which would otherwise print megabytes.
    """

    train_files: list[Path]
    val_files: list[Path]
    train_text: str = field(repr=False)
    val_text: str = field(repr=False)
    vocab: Vocabulary = field(repr=False)
    train: torch.Tensor = field(repr=False)
    val: torch.Tensor = field(repr=False)


def load_stdlib_corpus(val_fraction: float = 0.1, min_count: int = 20,
                       max_bytes: int | None = 6_000_000) -> Corpus:
    """The standard-library corpus, split by file, with a vocabulary built on the training part.

    Characters seen fewer than ``min_count`` times in the training text map to the unknown id
    (see :class:`Vocabulary`); the default keeps the ASCII of code and drops the few dozen
    accented letters and box-drawing characters that appear in a handful of docstrings.
    """
    train_files, val_files = split_files(stdlib_files(max_bytes), val_fraction)
    train_text, val_text = read_files(train_files), read_files(val_files)
    vocab = Vocabulary(train_text, min_count=min_count)
    return Corpus(train_files, val_files, train_text, val_text, vocab,
                  vocab.encode(train_text), vocab.encode(val_text))


def random_windows(data: torch.Tensor, batch_size: int, seq_len: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``batch_size`` random windows of ``seq_len + 1`` consecutive ids: (L,) -> (N, T + 1).

    A language model reads ``w[:, :-1]`` (N, T) and is scored on predicting ``w[:, 1:]``
    (N, T), the same text shifted by one. Start positions are uniform over the text, drawn
    with ``generator`` (on the CPU), so a seeded generator gives the same batches every run.
    The result is on ``data``'s device.
    """
    check_tensor(data, "data", shape=(None,), dtype=torch.int64)
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}")
    if len(data) < seq_len + 1:
        raise ValueError(f"data holds {len(data)} ids, too few for windows of seq_len + 1 = {seq_len + 1}")
    starts = torch.randint(0, len(data) - seq_len, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    return data[(starts[:, None] + offsets).to(data.device)]


def sequential_windows(data: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Cut the text into consecutive windows of ``seq_len + 1`` ids that overlap by one: (M, T + 1).

    Window i covers positions i*T .. i*T + T, so the targets ``w[:, 1:]`` of all windows
    together are every position from 1 to M*T exactly once: the right way to score a model on
    a whole validation text. The tail that does not fill a window is dropped.
    """
    check_tensor(data, "data", shape=(None,), dtype=torch.int64)
    if seq_len < 1:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    m = (len(data) - 1) // seq_len
    if m < 1:
        raise ValueError(f"data holds {len(data)} ids, too few for one window of seq_len + 1 = {seq_len + 1}")
    return data[: m * seq_len + 1].unfold(0, seq_len + 1, seq_len)
