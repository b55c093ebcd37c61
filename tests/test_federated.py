"""FedAvg: the weighted average, the client splits, and one round equal to plain SGD where it must be."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.federated import fedavg_aggregate, federated_averaging, local_sgd, split_clients


def test_fedavg_aggregate_is_the_size_weighted_mean():
    states = [{"w": torch.randn(3, 2), "b": torch.randn(2)} for _ in range(3)]
    sizes = [10, 30, 60]
    averaged = fedavg_aggregate(states, sizes)
    for name in ("w", "b"):
        expected = torch.stack([s[name] for s in states]).mul(torch.tensor([0.1, 0.3, 0.6]).view(-1, *[1] * states[0][name].dim())).sum(0)
        torch.testing.assert_close(averaged[name], expected)
    # a client with no data has no say; equal sizes give the plain mean
    torch.testing.assert_close(fedavg_aggregate(states, [0, 1, 1])["w"], (states[1]["w"] + states[2]["w"]) / 2)
    torch.testing.assert_close(fedavg_aggregate(states, [5, 5, 5])["b"], torch.stack([s["b"] for s in states]).mean(0))


def test_fedavg_aggregate_of_a_real_model_loads_back():
    models = [nn.Linear(4, 2) for _ in range(2)]
    merged = nn.Linear(4, 2)
    merged.load_state_dict(fedavg_aggregate([m.state_dict() for m in models], [1, 3]))
    torch.testing.assert_close(merged.weight, 0.25 * models[0].weight + 0.75 * models[1].weight)


def test_fedavg_aggregate_rejects_bad_sizes():
    state = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match="one size per state"):
        fedavg_aggregate([state, state], [1])
    with pytest.raises(ValueError, match="positive total"):
        fedavg_aggregate([state], [0])


@pytest.mark.parametrize("iid", [True, False])
def test_split_clients_is_a_partition(iid):
    y = torch.arange(10).repeat_interleave(20)[torch.randperm(200)]
    clients = split_clients(y, 10, iid=iid, seed=1)
    assert len(clients) == 10
    assert torch.equal(torch.cat(clients).sort().values, torch.arange(200))
    classes = [len(y[c].unique()) for c in clients]
    if iid:
        assert min(classes) >= 5  # 20 random examples out of 10 classes
    else:
        assert max(classes) <= 2  # two label-sorted shards of 10 examples each


def test_split_clients_rejects_too_many_clients():
    with pytest.raises(ValueError, match="cannot split"):
        split_clients(torch.arange(5), 3, iid=False, shards_per_client=2)


def _gradient_descent_by_hand(weight, bias, X, y, steps, lr, batches):
    """The reference: SGD on the mean cross-entropy of a linear model, with the gradient written
    out, (softmax(z) - onehot(y)) / B for the logits z, and nothing from torch.optim or autograd."""
    weight, bias, X = weight.double(), bias.double(), X.double()
    for step in range(steps):
        rows = batches[step]
        error = (torch.softmax(X[rows] @ weight.T + bias, dim=1) - F.one_hot(y[rows], weight.shape[0])) / len(rows)
        weight, bias = weight - lr * error.T @ X[rows], bias - lr * error.sum(0)
    return weight.float(), bias.float()


def _problem():
    torch.manual_seed(0)
    return torch.randn(40, 5), torch.randint(3, (40,)), nn.Linear(5, 3)


@pytest.mark.parametrize("batch_size", [40, 8])
def test_local_sgd_takes_plain_sgd_steps(batch_size):
    """Six steps against the hand-written reference: a gradient left over from the previous step
    (zero_grad outside the loop) would change every step after the first."""
    X, y, model = _problem()
    # local_sgd's batches: the first batch_size rows of a fresh permutation from its generator at
    # each step (with batch_size 40, every row: then the draw does not matter)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randperm(40, generator=generator)[:batch_size] for _ in range(6)]
    expected = _gradient_descent_by_hand(model.weight.detach(), model.bias.detach(), X, y, 6, 0.5, batches)
    local_sgd(model, X, y, steps=6, lr=0.5, batch_size=batch_size, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close((model.weight, model.bias), expected)


def test_one_client_one_round_is_local_sgd():
    """FedAvg with one client holding all the data: the average of one model is that model."""
    X, y, model = _problem()
    everything = [torch.arange(40)] * 6  # batch_size 40: every step sees all the data
    expected = _gradient_descent_by_hand(model.weight.detach(), model.bias.detach(), X, y, 6, 0.5, everything)
    federated_averaging(model, X, y, [torch.arange(40)], rounds=1, local_steps=6, lr=0.5, batch_size=40,
                        evaluate=lambda m: 0.0, seed=0)
    torch.testing.assert_close((model.weight, model.bias), expected)


def test_fedavg_learns_a_separable_problem():
    torch.manual_seed(0)
    X = torch.randn(400, 2)
    y = (X[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    accuracy = lambda m: (m(X).argmax(1) == y).float().mean().item()
    scores = federated_averaging(model, X, y, split_clients(y, 4, iid=False, shards_per_client=1), rounds=20,
                                 local_steps=5, lr=0.5, batch_size=16, evaluate=accuracy)
    assert len(scores) == 20 and scores[-1] > 0.95
