"""FGSM and PGD: the formula by hand, the epsilon-ball, the valid range, and that they hurt."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.adversarial import AdversarialLoader, accuracy_under_attack, fgsm, input_gradient, pgd
from utils.data import make_loader


def small_model(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)).to(device, torch.float64)


def batch(device, n=12):
    x = torch.rand(n, 1, 4, 4, dtype=torch.float64, device=device)
    y = torch.randint(3, (n,), device=device)
    return x, y


def test_input_gradient_matches_autograd(device):
    model, (x, y) = small_model(device), batch(device)
    x_leaf = x.clone().requires_grad_(True)
    F.cross_entropy(model(x_leaf), y).backward()
    torch.testing.assert_close(input_gradient(model, x, y), x_leaf.grad)


def test_fgsm_is_the_formula(device):
    model, (x, y) = small_model(device), batch(device)
    epsilon = 0.1
    x_leaf = x.clone().requires_grad_(True)
    F.cross_entropy(model(x_leaf), y).backward()
    expected = (x + epsilon * x_leaf.grad.sign()).clamp(0, 1)
    torch.testing.assert_close(fgsm(model, x, y, epsilon), expected)
    torch.testing.assert_close(fgsm(model, x, y, 0.0), x)


def test_fgsm_raises_the_loss_of_a_linear_model(device):
    # For a linear model a small signed step increases the loss (first-order argument is exact in direction).
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3)).to(device, torch.float64)
    x, y = batch(device)
    x = 0.25 + 0.5 * x  # away from the clip range, so no pixel is clipped
    x_adv = fgsm(model, x, y, 0.01)
    assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)


@pytest.mark.parametrize("random_start", [True, False])
def test_pgd_stays_in_the_ball_and_range(device, random_start):
    model, (x, y) = small_model(device), batch(device)
    epsilon = 0.2
    x_adv = pgd(model, x, y, epsilon, steps=7, random_start=random_start, generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= epsilon + 1e-12
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert not x_adv.requires_grad


def test_pgd_is_at_least_as_strong_as_fgsm_on_loss(device):
    model, (x, y) = small_model(device), batch(device, 64)
    loss = lambda inputs: F.cross_entropy(model(inputs), y).item()
    x_fgsm = fgsm(model, x, y, 0.1)
    x_pgd = pgd(model, x, y, 0.1, steps=20, random_start=False)
    assert loss(x_pgd) >= loss(x_fgsm) - 1e-9 and loss(x_fgsm) > loss(x)


def test_pgd_without_random_start_and_one_full_step_is_fgsm(device):
    model, (x, y) = small_model(device), batch(device)
    torch.testing.assert_close(pgd(model, x, y, 0.1, step_size=0.1, steps=1, random_start=False), fgsm(model, x, y, 0.1))


def test_accuracy_under_attack_and_adversarial_loader(device):
    model, (x, y) = small_model(device), batch(device, 32)
    clean = (model(x).argmax(1) == y).double().mean().item()
    accs = accuracy_under_attack(model, x, y, fgsm, [0.0, 0.5])
    assert accs[0] == pytest.approx(clean) and accs[1] <= accs[0]
    loader = AdversarialLoader(make_loader(x.cpu(), y.cpu(), batch_size=8, shuffle=False), model,
                               lambda m, xb, yb: fgsm(m, xb, yb, 0.1))
    assert len(loader) == 4
    (x_adv, y_adv), *_ = list(loader)
    torch.testing.assert_close(x_adv, fgsm(model, x[:8], y[:8], 0.1))
    assert x_adv.device.type == device.type and torch.equal(y_adv, y[:8])


def test_bad_inputs_say_what_was_expected():
    model, (x, y) = small_model("cpu"), batch("cpu")
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(TypeError, match="int64"):
        fgsm(model, x, y.float(), 0.1)
    with pytest.raises(ValueError, match="shape"):
        pgd(model, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="steps"):
        pgd(model, x, y, 0.1, steps=0)
