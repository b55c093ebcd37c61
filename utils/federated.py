"""Federated averaging (McMahan et al., 2017): train on data that never leaves its owners.

Each round, every client starts from the global model, takes a few SGD steps on its own
data, and sends back only its weights; the server averages them, weighted by how many
examples each client holds. The clients here are simulated in one process.
"""
import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_tensor


def split_clients(y: torch.Tensor, n_clients: int, iid: bool = True, shards_per_client: int = 2,
                  seed: int = 0) -> list[torch.Tensor]:
    """Split the indices of ``y`` (N,) among ``n_clients``; returns one index tensor per client.

    IID: a random permutation cut into equal parts, so every client sees every class.
    Non-IID (McMahan et al.'s pathological split): sort by label, cut into
    n_clients * shards_per_client shards, and deal each client ``shards_per_client`` random
    shards, so most clients hold only a couple of classes.
    """
    check_tensor(y, "y", shape=("N",))
    if not 1 <= n_clients * (1 if iid else shards_per_client) <= len(y):
        raise ValueError(f"cannot split {len(y)} examples among {n_clients} clients"
                         + ("" if iid else f" with {shards_per_client} shards each"))
    generator = torch.Generator().manual_seed(seed)
    if iid:
        return list(torch.randperm(len(y), generator=generator).tensor_split(n_clients))
    by_label = torch.sort(y, stable=True).indices
    shards = by_label.tensor_split(n_clients * shards_per_client)
    order = torch.randperm(len(shards), generator=generator).view(n_clients, shards_per_client)
    return [torch.cat([shards[i] for i in row]) for row in order.tolist()]


def fedavg_aggregate(states: list[dict[str, torch.Tensor]], sizes: list[int]) -> dict[str, torch.Tensor]:
    """The server's step: w = sum_k (n_k / n) w_k, for every tensor of the state dicts,
    with n_k the number of examples of client k and n = sum_k n_k.
    """
    if not states or len(states) != len(sizes):
        raise ValueError(f"expected one size per state dict, got {len(states)} states and {len(sizes)} sizes")
    if any(n < 0 for n in sizes) or sum(sizes) == 0:
        raise ValueError(f"sizes must be >= 0 with a positive total, got {sizes}")
    total = sum(sizes)
    return {name: sum((n / total) * state[name] for state, n in zip(states, sizes)) for name in states[0]}


def local_sgd(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
              batch_size: int, generator: torch.Generator) -> nn.Module:
    """``steps`` SGD steps of the cross-entropy loss, each on a fresh random mini-batch of
    ``batch_size`` distinct rows of (X, y). Returns ``model``, trained in place."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        batch = torch.randperm(len(X), generator=generator)[:batch_size]
        loss = F.cross_entropy(model(X[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def federated_averaging(model: nn.Module, X: torch.Tensor, y: torch.Tensor, clients: list[torch.Tensor],
                        rounds: int, local_steps: int, lr: float, batch_size: int,
                        evaluate: Callable[[nn.Module], float], seed: int = 0) -> list[float]:
    """Run FedAvg on ``model`` (trained in place) and return ``evaluate(model)`` after each round.

    ``clients`` holds each client's indices into (X, y). Every round all clients train a copy
    of the global model for ``local_steps`` steps (:func:`local_sgd`), and the global model
    becomes their weighted average (:func:`fedavg_aggregate`).
    """
    generator = torch.Generator().manual_seed(seed)
    sizes = [len(index) for index in clients]
    scores = []
    for _ in tqdm(range(rounds), desc="FedAvg rounds"):
        states = []
        for index in clients:
            local = local_sgd(copy.deepcopy(model), X[index], y[index], local_steps, lr, batch_size, generator)
            states.append(local.state_dict())
        model.load_state_dict(fedavg_aggregate(states, sizes))
        scores.append(evaluate(model))
    return scores
