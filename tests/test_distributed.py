"""Chapter 9's distributed code on real processes: launching, the ring all-reduce, DDP equivalence.

Every launch has a timeout, so a broken test fails in seconds instead of hanging.
"""
import time

import psutil
import pytest
import torch

from utils.data import load_digits
from utils.distributed import (ddp_train_digits, digit_batches, digits_lenet, launch, ring_check,
                               simulate_ring_all_reduce, train_steps)


def fail_on_rank_one():
    import torch.distributed as dist

    if dist.get_rank() == 1:
        raise RuntimeError("rank 1 fails on purpose")
    time.sleep(30)  # rank 0 would wait; launch must stop it


def live_workers() -> list:
    """The processes started by multiprocessing's spawn that are still running."""
    workers = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(p.cmdline()):
                workers.append(p)
        except psutil.NoSuchProcess:
            pass
    return workers


def sleep_forever():
    time.sleep(300)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_simulated_ring_equals_the_sum_and_sends_2_n_minus_1_over_n(n):
    numel = 60  # divisible by every n above, so each chunk has numel / n entries
    tensors = [torch.randn(3, numel // 3) for _ in range(n)]
    results, sent = simulate_ring_all_reduce(tensors)
    for r in results:
        torch.testing.assert_close(r, sum(tensors))
    assert sent == 2 * (n - 1) * numel // n * 4
    assert all(not torch.equal(t, results[0]) for t in tensors[1:])  # the inputs are left as they were


def test_simulated_ring_handles_sizes_that_do_not_divide():
    tensors = [torch.randn(7, dtype=torch.float64) for _ in range(3)]
    results, _ = simulate_ring_all_reduce(tensors)
    for r in results:
        torch.testing.assert_close(r, sum(tensors))
    with pytest.raises(ValueError):
        simulate_ring_all_reduce([torch.randn(3), torch.randn(4)])


def test_ring_all_reduce_on_two_processes_equals_all_reduce():
    numel = 1000
    out = launch(ring_check, world_size=2, args=(numel,), timeout=300)
    expected = sum(torch.randn(numel, generator=torch.Generator().manual_seed(r), dtype=torch.float64)
                   for r in range(2))
    for rank in out:
        torch.testing.assert_close(rank["ring"], rank["all_reduce"])
        torch.testing.assert_close(rank["ring"], expected)
        assert rank["bytes_sent"] == 2 * (2 - 1) / 2 * numel * 8


def test_ddp_on_two_processes_equals_one_process_on_the_whole_batch():
    steps, batch_size = 8, 32
    out = launch(ddp_train_digits, world_size=2, args=(steps, batch_size), timeout=300)
    X, y = load_digits()
    X = X.view(-1, 1, 8, 8)
    single = train_steps(digits_lenet(0), X, y, digit_batches(len(X), steps, batch_size)).state_dict()
    initial = digits_lenet(0).state_dict()
    for name, value in single.items():
        torch.testing.assert_close(out[0]["state"][name], value, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out[1]["state"][name], out[0]["state"][name], atol=0, rtol=0)
        assert not torch.equal(value, initial[name])  # training moved every tensor
    assert out[0]["examples_seen"] == steps * batch_size // 2


def test_launch_raises_a_workers_error_and_leaves_no_process_behind():
    with pytest.raises(Exception, match="rank 1 fails on purpose"):
        launch(fail_on_rank_one, world_size=2, timeout=300)
    assert not live_workers()


def test_launch_times_out_and_kills_its_processes():
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        launch(sleep_forever, world_size=2, timeout=15)
    assert time.monotonic() - start < 60
    assert not live_workers()


def test_launch_refuses_functions_other_processes_cannot_import():
    with pytest.raises(ValueError, match="importable"):
        launch(lambda: None, world_size=2)
    with pytest.raises(ValueError):
        launch(ring_check, world_size=0)
