"""Data-parallel training on several CPU processes with ``torch.distributed``, started as torchrun starts them.

:func:`launch` runs a function on N local processes. Each process gets the environment that
``torchrun`` gives a worker (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) and joins a process group with the gloo backend, which
runs on CPUs (NCCL is the backend for NVIDIA GPUs). So a function written for ``launch`` runs
unchanged under ``torchrun --nproc-per-node N``. The functions run by ``launch`` must be
importable (defined in a module, not in a notebook), since each process imports them anew.

:func:`ring_all_reduce` sums a tensor across processes with point-to-point sends and receives
only, the algorithm NCCL and gloo use for large tensors; :func:`simulate_ring_all_reduce` runs
the same schedule on a list of tensors in one process. :func:`ddp_train_digits` trains chapter
4's LeNet with ``DistributedDataParallel``.
"""
import os
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from .checks import check_tensor


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(fn, world_size: int = 2, args: tuple = (), timeout: float = 60.0, threads: int = 1) -> list:
    """Run ``fn(*args)`` on ``world_size`` new processes joined in a gloo process group; return
    what each returned, in rank order.

    Each process sees the environment torchrun would give it on one machine (the master on
    127.0.0.1 at a free port) and runs on ``threads`` CPU threads, so N processes do not fight
    over the cores. If any process raises, the others are stopped and the error is raised here;
    if they have not all finished after ``timeout`` seconds, all are killed and ``TimeoutError``
    is raised: no process is ever left behind. Results travel back through files (``torch.save``).
    """
    if not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive int, got {world_size!r}")
    if not callable(fn) or "<locals>" in getattr(fn, "__qualname__", "") or fn.__module__ == "__main__":
        raise ValueError("fn must be a function defined at the top level of an importable module "
                         f"(each process imports it anew), got {fn!r}")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="launch-") as results:
        context = mp.start_processes(_worker, args=(fn, args, world_size, port, timeout, threads, results),
                                     nprocs=world_size, join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=0.5):  # True once all have exited; raises if one failed
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {world_size} processes did not finish within {timeout} s")
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
                process.join(timeout=5)
        return [torch.load(Path(results) / f"rank{rank}.pt", weights_only=False) for rank in range(world_size)]


def _worker(local_rank: int, fn, args: tuple, world_size: int, port: int, timeout: float,
            threads: int, results: str) -> None:
    """One process of :func:`launch`: torchrun's environment, a gloo group, ``fn``, its result saved."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(local_rank), LOCAL_WORLD_SIZE=str(world_size))
    torch.set_num_threads(threads)
    # env:// reads the variables above, exactly as under torchrun; every collective gives up after `timeout`
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=timeout))
    try:
        result = fn(*args)
        torch.save(result, Path(results) / f"rank{local_rank}.pt")
    finally:
        dist.destroy_process_group()


def ring_chunks(tensor: torch.Tensor, n: int) -> list[torch.Tensor]:
    """Split a flat view of ``tensor`` into ``n`` nearly equal chunks (views, not copies)."""
    return list(tensor.view(-1).tensor_split(n))


def ring_all_reduce(tensor: torch.Tensor) -> int:
    """Sum ``tensor`` over all processes in place, with sends to the right neighbour and
    receives from the left one only; return the number of bytes this process sent.

    With N processes the tensor is cut into N chunks. Reduce-scatter: at step s = 0..N-2,
    process r sends chunk (r - s) mod N and adds the chunk (r - s - 1) mod N it receives, so
    after N - 1 steps it holds the full sum of chunk (r + 1) mod N. All-gather: N - 1 more
    steps pass the finished chunks round the ring. Each process sends 2 (N - 1) chunks,
    2 (N - 1) / N times the tensor's size whatever N is, but in 2 (N - 1) steps one after the
    other, so its latency grows with N. The ring is one of the algorithms gloo and NCCL use
    for large tensors (NCCL also uses trees, whose step count grows like log N).
    """
    check_tensor(tensor, "tensor")
    if not tensor.is_contiguous():
        raise ValueError("tensor must be contiguous, so that its chunks are views that can be summed in place")
    rank, n = dist.get_rank(), dist.get_world_size()
    right, left = (rank + 1) % n, (rank - 1) % n
    chunks = ring_chunks(tensor, n)
    sent = 0
    for phase in ("reduce-scatter", "all-gather"):
        for step in range(n - 1):
            if phase == "reduce-scatter":
                send_index, recv_index = (rank - step) % n, (rank - step - 1) % n
            else:
                send_index, recv_index = (rank + 1 - step) % n, (rank - step) % n
            incoming = torch.empty_like(chunks[recv_index])
            request = dist.isend(chunks[send_index].contiguous(), dst=right)  # send and receive at once: no deadlock
            dist.recv(incoming, src=left)
            request.wait()
            sent += chunks[send_index].numel() * chunks[send_index].element_size()
            if phase == "reduce-scatter":
                chunks[recv_index] += incoming
            else:
                chunks[recv_index].copy_(incoming)
    return sent


def simulate_ring_all_reduce(tensors: list[torch.Tensor]) -> tuple[list[torch.Tensor], int]:
    """The schedule of :func:`ring_all_reduce` run in one process: worker r holds ``tensors[r]``.

    Returns every worker's result (each equal to the sum) and the bytes one worker sends. All
    sends of a step are taken before any receive is applied, as when the workers run at once.
    """
    n = len(tensors)
    if n < 1:
        raise ValueError("expected at least one worker's tensor")
    for r, t in enumerate(tensors):
        check_tensor(t, f"tensors[{r}]", shape=tuple(tensors[0].shape), dtype=tensors[0].dtype)
    results = [t.clone().contiguous() for t in tensors]
    chunks = [ring_chunks(t, n) for t in results]
    sent = 0
    for phase in ("reduce-scatter", "all-gather"):
        for step in range(n - 1):
            offset = -step if phase == "reduce-scatter" else 1 - step
            messages = [chunks[r][(r + offset) % n].clone() for r in range(n)]  # what each worker sends right
            sent += messages[0].numel() * messages[0].element_size()
            for r in range(n):
                index, incoming = (r - 1 + offset) % n, messages[(r - 1) % n]  # from the left neighbour
                if phase == "reduce-scatter":
                    chunks[r][index] += incoming
                else:
                    chunks[r][index].copy_(incoming)
    return results, sent


def ring_check(numel: int, seed: int = 0) -> dict:
    """Run on every process of :func:`launch`: all-reduce a random tensor with :func:`ring_all_reduce`
    and with ``dist.all_reduce``; return both sums and the bytes the ring sent."""
    rank = dist.get_rank()
    x = torch.randn(numel, generator=torch.Generator().manual_seed(seed + rank), dtype=torch.float64)
    ours, reference = x.clone(), x.clone()
    sent = ring_all_reduce(ours)
    dist.all_reduce(reference)  # PyTorch's own, default op SUM
    return {"ring": ours, "all_reduce": reference, "bytes_sent": sent}


def digit_batches(num_examples: int, steps: int, batch_size: int, seed: int = 0) -> list[torch.Tensor]:
    """The example indices of ``steps`` random batches, the same on every process that asks."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, num_examples, (batch_size,), generator=generator) for _ in range(steps)]


def train_steps(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, batches: list[torch.Tensor],
                lr: float = 0.05, momentum: float = 0.9) -> torch.nn.Module:
    """SGD with momentum on the mean cross-entropy of each batch of indices; returns ``model``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    for index in batches:
        loss = F.cross_entropy(model(X[index]), y[index])
        optimizer.zero_grad()
        loss.backward()  # under DDP, backward also averages the gradients over the processes
        optimizer.step()
    return model


def digits_lenet(seed: int = 0) -> torch.nn.Module:
    """Chapter 4's LeNet for 8x8 digits, its weights drawn from ``seed``."""
    from .conv import LeNet

    torch.manual_seed(seed)
    return LeNet(image_size=8, channels=(16, 32), kernel_size=5, hidden=64)


def ddp_train_digits(steps: int, batch_size: int, lr: float = 0.05, seed: int = 0) -> dict:
    """Run on every process of :func:`launch`: train :func:`digits_lenet` with DDP for ``steps`` steps.

    Every process draws the same global batches of ``batch_size`` digits and trains on its own
    contiguous share of each (``batch_size / world_size`` digits). DDP averages the gradients,
    so the update is that of one process on the whole batch. Returns this process's final
    parameters and the number of digits it saw.
    """
    from torch.nn.parallel import DistributedDataParallel

    from .data import load_digits

    rank, world = dist.get_rank(), dist.get_world_size()
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must divide evenly among {world} processes")
    X, y = load_digits()
    X = X.view(-1, 1, 8, 8)
    share = batch_size // world
    batches = [index[rank * share:(rank + 1) * share] for index in digit_batches(len(X), steps, batch_size, seed)]
    model = DistributedDataParallel(digits_lenet(seed + rank))  # different seeds: DDP copies rank 0's weights
    train_steps(model, X, y, batches, lr)
    return {"state": {k: v.detach().clone() for k, v in model.module.state_dict().items()},
            "examples_seen": sum(len(b) for b in batches)}
