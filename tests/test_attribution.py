"""Saliency and integrated gradients: against autograd, Captum, and the completeness axiom."""
import pytest
import torch
from torch import nn

from utils.attribution import class_scores, integrated_gradients, randomized_copy, saliency


def small_model(device):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 4)).to(device, torch.float64)


def inputs(device, n=5):
    return torch.rand(n, 3, 4, dtype=torch.float64, device=device), torch.randint(4, (n,), device=device)


def test_saliency_is_the_absolute_input_gradient_of_each_row(device):
    model, (x, target) = small_model(device), inputs(device)
    maps = saliency(model, x, target)
    for i in range(len(x)):
        xi = x[i:i + 1].clone().requires_grad_(True)
        model(xi)[0, target[i]].backward()
        torch.testing.assert_close(maps[i], xi.grad[0].abs())


def test_integrated_gradients_equals_captum(device):
    from captum.attr import IntegratedGradients  # a dependency of the course: a broken install must fail
    model, (x, target) = small_model(device), inputs(device)
    baseline = torch.rand_like(x) * 0.1
    ours = integrated_gradients(model, x, target, baseline, steps=32)
    theirs = IntegratedGradients(model).attribute(x, baselines=baseline, target=target, n_steps=32,
                                                  method="riemann_middle")
    torch.testing.assert_close(ours, theirs)


def test_integrated_gradients_is_complete(device):
    model, (x, target) = small_model(device), inputs(device)
    attributions = integrated_gradients(model, x, target, steps=300)
    gap = class_scores(model, x, target) - class_scores(model, torch.zeros_like(x), target)
    torch.testing.assert_close(attributions.flatten(1).sum(1), gap, atol=1e-4, rtol=1e-4)


def test_integrated_gradients_of_a_linear_model_is_weight_times_input(device):
    # f_c(x) = w_c . x + b: the gradient is constant, so IG is exact with a single step.
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4)).to(device, torch.float64)
    x, target = inputs(device)
    weight = model[1].weight[target].view_as(x)
    torch.testing.assert_close(integrated_gradients(model, x, target, steps=1), weight * x)


def test_identical_input_and_baseline_give_zero(device):
    model, (x, target) = small_model(device), inputs(device)
    assert integrated_gradients(model, x, target, baseline=x, steps=4).abs().max() == 0


def test_randomized_copy_keeps_the_scale_not_the_weights():
    """Every parameter is redrawn from N(0, its own std). The std of n normal draws misses by a
    relative 1/sqrt(2n) (one standard error), their mean by std/sqrt(n); the bounds are 5 of
    them: 2.5% and 0.035 std for the 20,000 weights of the first layer, 25% and 0.35 std for
    its 200 biases. A wrong scale, such as the mean |w| (0.87 of the std of PyTorch's uniform
    initialisation), fails on the weight matrices."""
    model = nn.Sequential(nn.Linear(100, 200), nn.Tanh(), nn.Linear(200, 500)).double()
    clone = randomized_copy(model, seed=3)
    for (name, p), q in zip(model.named_parameters(), clone.parameters()):
        assert p.shape == q.shape and not torch.equal(p, q), name
        n, std = p.numel(), p.std().item()
        assert abs(q.std().item() / std - 1) < 5 / (2 * n) ** 0.5, name
        assert abs(q.mean().item()) < 5 * std / n ** 0.5, name
    torch.testing.assert_close(randomized_copy(model, seed=3)[2].weight, clone[2].weight)  # seeded
    assert not torch.equal(randomized_copy(model, seed=4)[2].weight, clone[2].weight)


def test_bad_inputs_say_what_was_expected():
    model, (x, target) = small_model("cpu"), inputs("cpu")
    with pytest.raises(ValueError, match="shape"):
        saliency(model, x, target[:2])
    with pytest.raises(TypeError, match="floating"):
        integrated_gradients(model, x.long(), target)
    with pytest.raises(ValueError, match="steps"):
        integrated_gradients(model, x, target, steps=0)
