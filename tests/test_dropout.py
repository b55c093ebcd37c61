"""Inverted dropout against F.dropout, the L2/L1 penalties, AdamW against torch.optim.AdamW, early stopping."""
import copy

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


def _three_layers():
    return nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2)).double()


def test_penalties_and_their_gradients_cover_every_weight_matrix():
    model = _three_layers()
    weights = [model[i].weight for i in (0, 2, 4)]
    params = list(model.parameters())  # weight, bias of each layer in turn
    l2, l1 = l2_penalty(model), l1_penalty(model)
    torch.testing.assert_close(l2, sum(0.5 * w.pow(2).sum() for w in weights))
    torch.testing.assert_close(l1, sum(w.abs().sum() for w in weights))
    for penalty, gradient_of in ((l2, lambda w: w), (l1, torch.sign)):
        grads = torch.autograd.grad(penalty, params, allow_unused=True)
        for i, (p, g) in enumerate(zip(params, grads)):
            if p.dim() == 1:
                assert g is None, f"parameter {i}: biases are not penalised"
            else:
                torch.testing.assert_close(g, gradient_of(p.detach()), msg=lambda m, i=i: f"parameter {i}: {m}")
    # weights_only=False penalises the biases too
    grads = torch.autograd.grad(l2_penalty(model, weights_only=False), params)
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, p.detach())


def test_l2_in_the_loss_equals_sgd_weight_decay():
    """Gradient descent on loss + lam * l2_penalty takes the steps of torch.optim.SGD with
    weight_decay = lam on the weight matrices (and none on the biases), step after step."""
    torch.manual_seed(0)
    lam, lr = 0.1, 0.1
    ours = _three_layers()
    reference = copy.deepcopy(ours)
    X, y = torch.randn(16, 4, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    opt = torch.optim.SGD(ours.parameters(), lr=lr)
    opt_ref = torch.optim.SGD([{"params": [p for p in reference.parameters() if p.dim() > 1], "weight_decay": lam},
                               {"params": [p for p in reference.parameters() if p.dim() == 1]}], lr=lr)
    for _ in range(10):
        opt.zero_grad(), opt_ref.zero_grad()
        (F.mse_loss(ours(X), y) + lam * l2_penalty(ours)).backward()
        F.mse_loss(reference(X), y).backward()
        opt.step(), opt_ref.step()
    for p, q in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)


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
