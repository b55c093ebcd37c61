"""FedAvg: the weighted average, the client splits, and one round equal to plain SGD where it must be."""
import copy

import pytest
import torch
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


def test_one_client_one_round_is_local_sgd():
    torch.manual_seed(0)
    X, y = torch.randn(40, 5), torch.randint(3, (40,))
    model = nn.Linear(5, 3)
    reference = local_sgd(copy.deepcopy(model), X, y, steps=6, lr=0.1, batch_size=8,
                          generator=torch.Generator().manual_seed(0))
    federated_averaging(model, X, y, [torch.arange(40)], rounds=1, local_steps=6, lr=0.1, batch_size=8,
                        evaluate=lambda m: 0.0, seed=0)
    torch.testing.assert_close(model.weight, reference.weight)


def test_fedavg_learns_a_separable_problem():
    torch.manual_seed(0)
    X = torch.randn(400, 2)
    y = (X[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    accuracy = lambda m: (m(X).argmax(1) == y).float().mean().item()
    scores = federated_averaging(model, X, y, split_clients(y, 4, iid=False, shards_per_client=1), rounds=20,
                                 local_steps=5, lr=0.5, batch_size=16, evaluate=accuracy)
    assert len(scores) == 20 and scores[-1] > 0.95
