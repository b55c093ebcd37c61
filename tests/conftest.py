"""Shared fixtures: every layer test runs on the CPU, and on CUDA when a GPU is present."""
import pytest
import torch

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
