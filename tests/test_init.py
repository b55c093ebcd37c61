"""Initialisers against torch.nn.init: the same draws from the same generator, and the right scale."""
import math

import pytest
import torch
from torch import nn

from utils.init import fans, he_normal_, he_uniform_, initialize, xavier_normal_, xavier_uniform_


@pytest.mark.parametrize("ours, theirs", [
    (xavier_uniform_, nn.init.xavier_uniform_),
    (xavier_normal_, nn.init.xavier_normal_),
    (he_normal_, lambda w, generator: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)),
    (he_uniform_, lambda w, generator: nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=generator)),
])
@pytest.mark.parametrize("shape", [(30, 50), (8, 3, 5, 5)])
def test_initialisers_match_torch_nn_init(ours, theirs, shape):
    a = ours(torch.empty(shape), generator=torch.Generator().manual_seed(3))
    b = theirs(torch.empty(shape), generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


def test_fans_count_the_receptive_field():
    assert fans(torch.empty(30, 50)) == (50, 30)
    assert fans(torch.empty(8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fans(torch.empty(5))


def test_he_keeps_the_scale_through_deep_relu_layers(device):
    x = torch.randn(2000, 256, device=device)
    h = x
    for _ in range(20):
        h = torch.relu(h @ he_normal_(torch.empty(256, 256, device=device)).T)
    # E[h^2] stays about 1 (it would be 2^-20 with Xavier's 1/fan_in variance halved by ReLU each layer).
    assert 0.3 < h.pow(2).mean().item() < 3


def test_initialize_redraws_linear_weights_and_zeroes_biases():
    model = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.BatchNorm1d(50), nn.Linear(50, 10))
    initialize(model, "he", generator=torch.Generator().manual_seed(0))
    assert abs(model[0].weight.std().item() - math.sqrt(2 / 100)) < 0.01
    assert model[0].bias.abs().max() == 0 and torch.equal(model[2].weight, torch.ones(50))
    initialize(model, "small", std=0.01)
    assert model[3].weight.std().item() < 0.02
    with pytest.raises(ValueError, match="unknown scheme"):
        initialize(model, "lecun")
