"""The standard-library text corpus: split by file, vocabulary, encoding and batches.

The standard library differs a little between Python versions, so nothing here hard-codes a
size: the tests assert properties that hold on any installation.
"""
import sysconfig
from pathlib import Path

import pytest
import torch

from utils.text import (UNKNOWN, Vocabulary, load_stdlib_corpus, random_windows, read_files,
                        sequential_windows, split_files, stdlib_files)


@pytest.fixture(scope="module")
def corpus():
    return load_stdlib_corpus()


def test_stdlib_files_are_sorted_top_level_modules_within_the_budget():
    files = stdlib_files()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    assert files == sorted(files) and len(files) > 10
    assert all(f.parent == stdlib and f.suffix == ".py" for f in files)
    assert not any(f.name.startswith("_sysconfigdata") for f in files)
    assert sum(f.stat().st_size for f in files) <= 6_000_000
    small = stdlib_files(max_bytes=200_000)
    assert small == files[: len(small)] and sum(f.stat().st_size for f in small) <= 200_000
    assert stdlib_files() == files  # deterministic
    with pytest.raises(ValueError, match="max_bytes"):
        stdlib_files(max_bytes=1)


def test_split_is_by_file_disjoint_complete_and_deterministic():
    files = stdlib_files()
    train, val = split_files(files, 0.1)
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(files)
    assert len(train) + len(val) == len(files) and val and train
    assert split_files(files, 0.1) == (train, val)
    # A file's side depends only on its name: splitting a subset keeps every file's side.
    sub_train, sub_val = split_files(files[::2], 0.1)
    assert set(sub_val) == set(val) & set(files[::2]) and set(sub_train) == set(train) & set(files[::2])
    # A larger fraction only moves files from training to validation.
    _, val_more = split_files(files, 0.3)
    assert set(val) <= set(val_more)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="val_fraction"):
            split_files(files, bad)
    with pytest.raises(ValueError, match="at least two files"):
        split_files(files[:1])


def test_corpus_texts_come_from_their_own_files(corpus):
    assert corpus.train_text == read_files(corpus.train_files)
    assert corpus.val_text == read_files(corpus.val_files)
    assert set(corpus.train_files).isdisjoint(corpus.val_files)
    assert "def " in corpus.train_text and "import " in corpus.val_text
    assert corpus.train.dtype == corpus.val.dtype == torch.int64
    assert corpus.train.shape == (len(corpus.train_text),) and corpus.val.shape == (len(corpus.val_text),)
    assert len(corpus.train_text) > 5 * len(corpus.val_text) > 0
    again = load_stdlib_corpus()
    assert torch.equal(again.train, corpus.train) and again.vocab.chars == corpus.vocab.chars


def test_vocabulary_covers_code_and_maps_rare_characters_to_unknown(corpus):
    vocab = corpus.vocab
    assert vocab.chars[0] == UNKNOWN and vocab.chars[1:] == sorted(vocab.chars[1:])
    for char in "\n ()[]{}:=_.,'\"#abcxyzABCXYZ0123456789":
        assert char in vocab
    assert len(vocab) == len(set(vocab.chars)) and len(vocab) < 200
    assert 0 <= corpus.train.min() and corpus.train.max() < len(vocab)
    # Nearly all of the training text is in the vocabulary; the rest is the unknown id 0.
    assert (corpus.train == 0).float().mean() < 1e-3
    assert corpus.vocab.decode(corpus.train[:500]) == corpus.train_text[:500].translate(
        {ord(c): UNKNOWN for c in vocab.rare})


def test_encode_decode_round_trip_and_unknowns():
    vocab = Vocabulary("aab\nbbcc c d", min_count=2)  # 'd' and '\n' appear once: rare
    assert vocab.chars == [UNKNOWN, " ", "a", "b", "c"]
    assert vocab.rare == {"d", "\n"}
    ids = vocab.encode("cab a")
    assert ids.dtype == torch.int64 and ids.tolist() == [4, 2, 3, 1, 2]
    assert vocab.decode(ids) == "cab a"
    assert vocab.decode(vocab.encode("ad\n€")) == "a" + UNKNOWN * 3  # rare and unseen -> "�"
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""
    assert vocab.decode([4, 2]) == "ca"  # a list works too


def test_encode_decode_reject_bad_input():
    vocab = Vocabulary("abc")
    with pytest.raises(TypeError, match="expected a str"):
        vocab.encode(b"abc")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\)"):
        vocab.decode(torch.tensor([1, 4]))
    with pytest.raises(TypeError, match="integer tensor"):
        vocab.decode(torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="expected shape"):
        vocab.decode(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="empty text"):
        Vocabulary("")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary("abc", min_count=0)


def test_random_windows_shapes_content_and_reproducibility():
    data = torch.arange(1000)
    w = random_windows(data, batch_size=16, seq_len=32, generator=torch.Generator().manual_seed(0))
    assert w.shape == (16, 33) and w.dtype == torch.int64
    assert torch.equal(w[:, 1:] - w[:, :-1], torch.ones(16, 32, dtype=torch.int64))  # consecutive
    assert 0 <= w.min() and w.max() < 1000
    again = random_windows(data, 16, 32, torch.Generator().manual_seed(0))
    other = random_windows(data, 16, 32, torch.Generator().manual_seed(1))
    assert torch.equal(w, again) and not torch.equal(w, other)
    # Every start position can be drawn, including the last one.
    starts = random_windows(torch.arange(10), 2000, 9, torch.Generator().manual_seed(0))[:, 0]
    assert set(starts.tolist()) == {0}
    starts = random_windows(torch.arange(20), 2000, 9, torch.Generator().manual_seed(0))[:, 0]
    assert set(starts.tolist()) == set(range(11))


def test_random_windows_reject_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(TypeError, match="data: expected dtype torch.int64"):
        random_windows(torch.arange(100).float(), 4, 8, g)
    with pytest.raises(ValueError, match=r"data: expected shape \(\*,\)"):
        random_windows(torch.zeros(4, 25, dtype=torch.int64), 4, 8, g)
    with pytest.raises(ValueError, match="too few"):
        random_windows(torch.arange(8), 4, 8, g)
    with pytest.raises(ValueError, match="must be positive"):
        random_windows(torch.arange(100), 0, 8, g)


def test_sequential_windows_cover_every_target_once():
    data = torch.arange(103)
    w = sequential_windows(data, 10)
    assert w.shape == (10, 11) and w.dtype == torch.int64
    assert torch.equal(w[:, 0], torch.arange(0, 100, 10))
    assert torch.equal(w[:, 1:].flatten(), torch.arange(1, 101))  # each target exactly once
    with pytest.raises(ValueError, match="too few"):
        sequential_windows(torch.arange(5), 10)
    with pytest.raises(ValueError, match="must be positive"):
        sequential_windows(data, 0)
