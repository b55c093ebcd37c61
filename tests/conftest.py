"""Shared fixtures: every layer test runs on the CPU, and on CUDA when a GPU is present; the
built book (``book_html``) and its chapters' execution records (``chapter_runs``)."""
import pytest
import torch

from .book_build import book_html, chapter_runs  # noqa: F401  (fixtures shared by the book tests)

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Parametrises a test over the CPU and (when present) CUDA."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _seed():
    """Each test starts from the same random state, so a failure reproduces."""
    torch.manual_seed(0)
