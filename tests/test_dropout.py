"""Inverted dropout against F.dropout, the L2/L1 penalties, AdamW against torch.optim.AdamW, early stopping."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients
from utils.regularization import AdamW, Dropout, EarlyStopping, dropout, l1_penalty, l2_penalty


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_with_torchs_mask_gives_torchs_output_and_gradient(device, p):
    x = (torch.rand(64, 32, dtype=torch.float64, device=device) + 0.1).requires_grad_()  # no zeros in x
    y_ref = F.dropout(x, p, training=True)
    mask = y_ref.detach() != 0  # the elements torch kept
    assert_same_values_and_gradients(dropout(x, p, mask=mask), y_ref, [x], [x])


def test_dropout_preserves_the_expectation_and_keeps_1_minus_p(device):
    x = torch.ones(400_000, device=device)
    y = dropout(x, 0.3, generator=torch.Generator().manual_seed(0))
    assert abs(y.mean().item() - 1) < 0.01
    assert abs((y != 0).float().mean().item() - 0.7) < 0.01
    assert y.device.type == device.type


def test_dropout_layer_is_the_identity_in_eval_mode():
    layer = Dropout(0.5)
    x = torch.randn(10, 10)
    assert (layer(x) == 0).any()
    layer.eval()
    assert torch.equal(layer(x), x)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\)"):
        Dropout(1.0)
    with pytest.raises(ValueError, match="mask: expected shape"):
        dropout(x, 0.5, mask=torch.ones(3, 3))


def test_penalties_and_their_gradients():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    l2_penalty(model).backward()
    torch.testing.assert_close(model[0].weight.grad, model[0].weight.detach())
    assert model[0].bias.grad is None  # biases are not penalised
    model.zero_grad()
    l1_penalty(model).backward()
    torch.testing.assert_close(model[2].weight.grad, model[2].weight.detach().sign())


def test_l2_in_the_loss_equals_sgd_weight_decay():
    torch.manual_seed(0)
    w0, lam = torch.randn(5, dtype=torch.float64), 0.1
    target = torch.randn(5, dtype=torch.float64)
    a, b = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    opt_a = torch.optim.SGD([a], lr=0.1)
    opt_b = torch.optim.SGD([b], lr=0.1, weight_decay=lam)
    for _ in range(10):
        opt_a.zero_grad(), opt_b.zero_grad()
        ((a - target) ** 2).sum().add(lam / 2 * (a**2).sum()).backward()
        ((b - target) ** 2).sum().backward()
        opt_a.step(), opt_b.step()
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 0.3])
def test_adamw_matches_torch_adamw(device, weight_decay):
    torch.manual_seed(1)
    w0 = torch.randn(7, 3, dtype=torch.float64, device=device)
    x = torch.randn(20, 3, dtype=torch.float64, device=device)
    ours_w, ref_w = w0.clone().requires_grad_(), w0.clone().requires_grad_()
    ours = AdamW([ours_w], lr=0.05, weight_decay=weight_decay)
    ref = torch.optim.AdamW([ref_w], lr=0.05, weight_decay=weight_decay)
    for _ in range(25):
        for w, opt in ((ours_w, ours), (ref_w, ref)):
            opt.zero_grad()
            torch.tanh(x @ w.T).pow(2).sum().backward()
            opt.step()
    torch.testing.assert_close(ours_w, ref_w)


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=2)
    losses = [1.0, 0.5, 0.7, 0.6, 0.4]
    stops = []
    for loss in losses:
        with torch.no_grad():
            model.weight.fill_(loss)
        stops.append(stopper.step(loss, model))
    assert stops == [False, False, False, True, False]
    # a caller stops at the first True: epoch 4; the best was epoch 2
    stopper = EarlyStopping(patience=2)
    for loss in losses[:4]:
        with torch.no_grad():
            model.weight.fill_(loss)
        if stopper.step(loss, model):
            break
    stopper.restore(model)
    assert stopper.best_epoch == 2 and torch.all(model.weight == 0.5)
