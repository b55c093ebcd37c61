"""The training loop learns, records its history, and runs on whichever device is given."""
import torch
import torch.nn.functional as F

from utils import MLP, accuracy, evaluate, fit, make_loader, set_seed


def _blobs(n=200):
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (n,), generator=g)
    X = torch.randn(n, 2, generator=g) + 3 * y.unsqueeze(1).float()
    return X, y


def test_fit_learns_a_separable_problem_and_records_history(device):
    set_seed(0)
    X, y = _blobs()
    model = MLP([2, 16, 2])
    loader = make_loader(X, y, batch_size=32)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, loader, F.cross_entropy, opt, epochs=15, val_loader=loader,
                  metric=accuracy, device=device, progress=False)
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_metric) == 15
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_metric[-1] > 0.95
    assert history.metric_name == "accuracy"
    assert next(model.parameters()).device.type == device.type


def test_evaluate_restores_training_mode_and_matches_manual_computation():
    X, y = _blobs(50)
    model = MLP([2, 4, 2])
    model.train()
    loss, acc = evaluate(model, make_loader(X, y, shuffle=False), F.cross_entropy, accuracy, device="cpu")
    assert model.training
    with torch.no_grad():
        scores = model(X)
    assert abs(loss - F.cross_entropy(scores, y).item()) < 1e-6
    assert acc == (scores.argmax(1) == y).float().mean().item()
