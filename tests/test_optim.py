"""utils.optim.SGD and Adam take the same steps as torch.optim.SGD and torch.optim.Adam."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.data import make_loader
from utils.optim import SGD, Adam, trajectory
from utils.train import fit

CONFIGS = {
    "sgd": (SGD, torch.optim.SGD, dict(lr=0.1)),
    "sgd+momentum": (SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    "adam": (Adam, torch.optim.Adam, dict(lr=1e-2)),
    "adam, other betas and eps": (Adam, torch.optim.Adam, dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6)),
}


def small_problem(device):
    # float64, so that the comparison measures the update rules and not float32 rounding
    # (which Adam's division by sqrt(v_hat) amplifies over 100 steps to about 1e-6).
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3)).to(device, torch.float64)
    X = torch.randn(64, 5, device=device, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), device=device)
    return model, X, y


def train(model, optimizer, X, y, steps=100):
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("name", list(CONFIGS))
def test_same_parameters_as_torch_after_100_steps(device, name):
    ours_class, torch_class, hyper = CONFIGS[name]
    model, X, y = small_problem(device)
    twin = copy.deepcopy(model)
    start = [p.detach().clone() for p in model.parameters()]

    losses = train(model, ours_class(model.parameters(), **hyper), X, y)
    train(twin, torch_class(twin.parameters(), **hyper), X, y)

    assert losses[-1] < 0.9 * losses[0]  # it really trained
    for p, q, p0 in zip(model.parameters(), twin.parameters(), start):
        assert not torch.allclose(p, p0)
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["sgd+momentum", "adam"])
def test_parameter_groups_keep_their_own_learning_rates(device, name):
    ours_class, torch_class, hyper = CONFIGS[name]
    model, X, y = small_problem(device)
    twin = copy.deepcopy(model)

    def groups(m):
        return [{"params": m[0].parameters(), "lr": hyper["lr"] / 10}, {"params": m[2].parameters()}]

    train(model, ours_class(groups(model), **hyper), X, y, steps=20)
    train(twin, torch_class(groups(twin), **hyper), X, y, steps=20)
    for p, q in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def test_adam_first_step_moves_each_parameter_by_lr(device):
    # With bias correction m_hat = g and v_hat = g^2 at t = 1, so the step is lr * g / (|g| + eps):
    # lr * sign(g) whatever the gradient's scale, to within lr * eps / |g| = 1e-5 of a step here.
    # The displacement is compared, in float64, to a ten-thousandth of a step: a tolerance relative
    # to the parameter (250) would let through a step off by a few percent.
    lr, gradient = 0.1, torch.tensor([2.0, -5.0, 1e-3], dtype=torch.float64, device=device)
    start = torch.tensor([3.0, -0.001, 250.0], dtype=torch.float64, device=device)
    p = start.clone().requires_grad_()
    optimizer = Adam([p], lr=lr)
    (p * gradient).sum().backward()
    optimizer.step()
    torch.testing.assert_close(p.detach() - start, -lr * gradient.sign(), rtol=0, atol=lr * 1e-4)


def test_momentum_accumulates_a_constant_gradient(device):
    # Gradient 1 at every step: v_t = 1 + mu + ... + mu^(t-1), so p drops by lr * sum of v_t.
    p = torch.zeros(1, device=device, requires_grad=True)
    optimizer = SGD([p], lr=0.1, momentum=0.5)
    for _ in range(3):
        optimizer.zero_grad()
        p.sum().backward()
        optimizer.step()
    assert p.item() == pytest.approx(-0.1 * (1 + 1.5 + 1.75))


def test_parameters_without_gradient_are_left_alone(device):
    used, unused = torch.ones(2, device=device, requires_grad=True), torch.ones(2, device=device, requires_grad=True)
    for optimizer in (SGD([used, unused], lr=0.1, momentum=0.9), Adam([used, unused])):
        optimizer.zero_grad()
        (used * 2).sum().backward()
        optimizer.step()
        assert torch.equal(unused.detach(), torch.ones(2, device=device))
        assert unused not in optimizer.state


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.0),
    lambda p: SGD(p, lr=0.1, momentum=1.0),
    lambda p: Adam(p, lr=-1e-3),
    lambda p: Adam(p, betas=(0.9, 1.0)),
    lambda p: Adam(p, eps=0.0),
])
def test_bad_hyperparameters_raise(make):
    with pytest.raises(ValueError):
        make([torch.zeros(1, requires_grad=True)])


def test_works_with_fit_and_state_dict(device):
    model, X, y = small_problem(device)
    optimizer = Adam(model.parameters(), lr=1e-2)
    history = fit(model, make_loader(X.cpu(), y.cpu(), batch_size=16), F.cross_entropy, optimizer,
                  epochs=5, device=device, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    restored = Adam(model.parameters(), lr=1e-2)
    restored.load_state_dict(optimizer.state_dict())
    first = next(iter(model.parameters()))
    assert torch.equal(restored.state[first]["m"], optimizer.state[first]["m"])


def test_trajectory_reaches_the_minimum_of_a_bowl():
    def bowl(p):
        return (p[0] - 1) ** 2 + 4 * (p[1] + 2) ** 2

    path = trajectory(bowl, (3.0, 3.0), SGD, steps=200, lr=0.05, momentum=0.5)
    assert path.shape == (201, 2)
    assert torch.equal(path[0], torch.tensor([3.0, 3.0], dtype=torch.float64))
    assert torch.allclose(path[-1], torch.tensor([1.0, -2.0], dtype=torch.float64), atol=1e-6)
