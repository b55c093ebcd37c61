"""Loss scaling, distillation, pruning, int8 quantization and the scaling-curve helpers of chapter 9."""
import copy
import math
import time

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils import prune

from utils.distributed import digits_lenet
from utils.gpt import GPT
from utils.scaling import (DynamicLossScaler, Int8Linear, as_torch_modules, distillation_loss, fit_power_law,
                           import_torchao, latencies, magnitude_mask, quantize_int8, replace_linears, size_bytes, sparsity,
                           soft_targets_kl, train_lm_steps)

from .layer_checks import assert_same_values_and_gradients


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_soft_targets_kl_equals_kl_div_in_values_and_gradients(device, temperature):
    student = torch.randn(16, 10, dtype=torch.float64, device=device, requires_grad=True)
    teacher = torch.randn(16, 10, dtype=torch.float64, device=device) * 3
    reference = temperature ** 2 * F.kl_div(F.log_softmax(student / temperature, dim=1),
                                            F.log_softmax(teacher / temperature, dim=1),
                                            reduction="batchmean", log_target=True)
    assert_same_values_and_gradients(soft_targets_kl(student, teacher, temperature), reference, [student], [student])


def test_distillation_loss_mixes_soft_and_hard_targets_and_never_trains_the_teacher(device):
    student = torch.randn(8, 5, device=device, requires_grad=True)
    teacher = torch.randn(8, 5, device=device, requires_grad=True)
    targets = torch.randint(0, 5, (8,), device=device)
    loss = distillation_loss(student, teacher, targets, temperature=2.0, alpha=0.3)
    expected = 0.3 * soft_targets_kl(student, teacher, 2.0) + 0.7 * F.cross_entropy(student, targets)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert teacher.grad is None and student.grad.abs().sum() > 0
    assert distillation_loss(teacher, teacher, targets, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_distillation_rejects_bad_arguments():
    s, t, y = torch.randn(4, 3), torch.randn(4, 3), torch.randint(0, 3, (4,))
    for call in (lambda: distillation_loss(s, t, y, alpha=1.5), lambda: distillation_loss(s, t, y, temperature=0),
                 lambda: distillation_loss(s, torch.randn(4, 2), y), lambda: distillation_loss(s, t, y.float())):
        with pytest.raises((ValueError, TypeError)):
            call()


def test_dynamic_loss_scaler_follows_grad_scaler_step_for_step():
    """Same scales, same skipped steps, same parameters as torch.amp.GradScaler, with overflows mixed in."""
    torch.manual_seed(0)
    ours_model = torch.nn.Linear(4, 3)
    theirs_model = copy.deepcopy(ours_model)
    ours_opt = torch.optim.SGD(ours_model.parameters(), lr=0.1)
    theirs_opt = torch.optim.SGD(theirs_model.parameters(), lr=0.1)
    ours = DynamicLossScaler(scale=1024.0, growth_interval=3)
    theirs = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=3)
    for step in range(12):
        x = torch.randn(5, 4)
        if step in (2, 7, 8):
            x[0, 0] = float("inf")  # this step's gradients overflow
        for model, opt, loss_of in ((ours_model, ours_opt, ours.scale_loss), (theirs_model, theirs_opt, theirs.scale)):
            opt.zero_grad()
            loss_of(model(x).pow(2).mean()).backward()
        stepped = ours.step(ours_opt)
        theirs.step(theirs_opt)
        theirs.update()
        assert stepped == (step not in (2, 7, 8))
        assert ours.scale == theirs.get_scale()
        for a, b in zip(ours_model.parameters(), theirs_model.parameters()):
            torch.testing.assert_close(a, b)
    assert ours.scale != 1024.0  # it both shrank and grew along the way


@pytest.mark.parametrize("scaled", [False, True])
def test_float16_underflow_is_recovered_by_scaling(scaled):
    """A forward pass in float16 whose gradients, about 1e-8, lie below float16's smallest
    subnormal (6e-8): unscaled, they round to zero and the weights never move. DynamicLossScaler's
    scaled loss (2^16 by default) lifts them into range, and its step divides them back in the
    float32 master gradients before the update: the true gradient, up to two float16 roundings
    (2^-11 each)."""
    x = torch.rand(6, generator=torch.Generator().manual_seed(0)) * 1e-3 + 1e-3
    exact = 1e-5 * x.half().double()  # d loss / d w
    w = torch.zeros(6, requires_grad=True)  # float32 master weights
    optimizer, scaler = torch.optim.SGD([w], lr=1.0), DynamicLossScaler()
    loss = 1e-5 * (w.half() * x.half()).float().sum()  # float16 compute, a float32 loss, as under autocast
    if scaled:
        scaler.scale_loss(loss).backward()
        assert scaler.step(optimizer)
        torch.testing.assert_close(w.grad.double(), exact, rtol=2e-3, atol=0)
        torch.testing.assert_close(w.detach().double(), -exact, rtol=2e-3, atol=0)
    else:
        loss.backward()
        optimizer.step()
        assert (w.grad == 0).all() and (w == 0).all()


class _Spinner(torch.nn.Module):
    """A model whose forward pass uses at least ``seconds`` of CPU time, and which counts its calls."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def forward(self, x):
        self.calls += 1
        end = time.process_time() + self.seconds
        while time.process_time() < end:
            pass
        return x


def test_latencies_times_every_model_by_turns_after_an_untimed_call():
    slow, fast = _Spinner(0.02), _Spinner(0.0)
    times = latencies({"slow": slow, "fast": fast}, torch.zeros(1), rounds=4)
    assert slow.calls == fast.calls == 2 * 4  # an untimed and a timed call a round
    assert times["slow"] >= 0.02 and times["fast"] < 0.01  # an empty call costs far less CPU time
    with pytest.raises(ValueError, match="rounds >= 1"):
        latencies({"fast": fast}, torch.zeros(1), rounds=0)


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_magnitude_mask_equals_torch_prune(device, amount):
    layer = torch.nn.Linear(20, 30).to(device)
    mask = magnitude_mask(layer.weight.detach(), amount)
    prune.l1_unstructured(layer, "weight", amount=amount)
    torch.testing.assert_close(mask, layer.weight_mask)
    assert (mask == 0).sum().item() == round(amount * 600)


def test_magnitude_mask_keeps_the_largest_weights_even_with_ties():
    weight = torch.tensor([[0.0, -3.0, 1.0], [1.0, -1.0, 2.0]])
    mask = magnitude_mask(weight, 0.5)
    assert mask.sum().item() == 3
    assert weight.abs()[mask == 1].min() >= weight.abs()[mask == 0].max()
    with pytest.raises(ValueError):
        magnitude_mask(weight, 1.5)


def test_sparsity_counts_zero_weights_of_every_layer():
    model = digits_lenet()
    for module in model.modules():
        if hasattr(module, "weight"):
            prune.l1_unstructured(module, "weight", amount=0.75)
            prune.remove(module, "weight")
    assert sparsity(model) == pytest.approx(0.75, abs=1e-3)


def test_int8_quantization_round_trips_within_half_a_step_and_handles_zero_rows():
    x = torch.randn(6, 32)
    x[2] = 0
    q, scale = quantize_int8(x, dim=0)
    assert q.dtype == torch.int8 and scale.shape == (6, 1)
    assert ((q.float() * scale - x).abs() <= scale / 2 + 1e-7).all()
    assert (q[2] == 0).all() and torch.isfinite(scale).all()


def test_int8_linear_equals_torchao_dynamic_int8():
    torchao = import_torchao()
    layer = torch.nn.Linear(64, 24)
    reference = copy.deepcopy(torch.nn.Sequential(layer))
    torchao.quantization.quantize_(reference, torchao.quantization.Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    ours = Int8Linear(layer)
    x = torch.randn(32, 64)
    torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-5)
    assert (ours(x) - layer(x)).abs().max() < 0.05  # close to float, not equal
    assert ours.q_weight.dtype == torch.int8


def test_replace_linears_and_size():
    model = as_torch_modules(digits_lenet())
    quantized = replace_linears(model, Int8Linear)
    assert sum(isinstance(m, Int8Linear) for m in quantized.modules()) == 2
    assert not any(isinstance(m, Int8Linear) for m in model.modules())  # the original is untouched
    x = torch.rand(10, 1, 8, 8)
    assert (quantized(x) - model(x)).abs().max() < 0.05
    linear_bytes = sum(m.weight.numel() * 4 for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert size_bytes(model) - size_bytes(quantized) > 0.7 * linear_bytes  # int8: a quarter of float32


def test_as_torch_modules_computes_the_same_function():
    ours = digits_lenet()
    theirs = as_torch_modules(ours)
    assert not any(type(m).__module__.startswith("utils") for m in theirs.modules() if m is not theirs)
    x = torch.rand(7, 1, 8, 8)
    torch.testing.assert_close(theirs(x), ours(x), atol=1e-5, rtol=1e-5)


def test_fit_power_law_recovers_the_exponent():
    n = torch.tensor([1e4, 3e4, 1e5, 1e6])
    a, alpha = fit_power_law(n, 7.0 * n ** -0.076)
    assert a == pytest.approx(7.0, rel=1e-4) and alpha == pytest.approx(0.076, rel=1e-4)
    with pytest.raises(ValueError):
        fit_power_law(torch.tensor([1.0]), torch.tensor([2.0]))


def test_train_lm_steps_is_fixed_by_the_seed_and_learns():
    data = torch.arange(2000) % 7  # a periodic text: easy to learn
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = GPT(7, block_size=16, width=16, depth=1, heads=2)
        runs.append(train_lm_steps(model, data, steps=30, batch_size=8, seq_len=16, lr=1e-2,
                                   generator=torch.Generator().manual_seed(0), warmup_steps=5))
    assert runs[0] == runs[1]
    assert runs[0][-1] < runs[0][0] - 0.5
    assert math.isclose(runs[0][0], math.log(7), rel_tol=0.2)
