"""Training and scoring character-level language models on a fixed compute budget.

Chapter 7 compares models of different kinds (counts, an RNN, a Transformer). A fair
comparison gives each the same *compute*, not the same steps: a step of one model can cost
ten of another's. So :func:`train_for` runs until its clock says stop, and its learning rate
follows the clock too: a short warm-up, then a cosine decay that reaches its end exactly when
the budget runs out, however many steps the machine managed. On the CPU the clock is the
process's CPU time, not the wall clock: other programs on a busy machine stretch the wall
time of a run, but not the computing it gets. Any model that maps ids (N, T)
to ``(logits (N, T, V), anything)``, such as :class:`utils.rnn.CharRNN` and
:class:`utils.gpt.GPT`, can be trained and scored.
"""
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .rnn import clip_grad_norm
from .text import random_windows, sequential_windows


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats over all positions: logits (N, T, V), targets (N, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def bits_per_character(model: torch.nn.Module, data: torch.Tensor, seq_len: int, batch_size: int = 256) -> float:
    """The model's mean bits per character on the whole text ``data`` (L,).

    The text is cut into consecutive windows of ``seq_len`` (:func:`utils.text.sequential_windows`),
    so every character but the first is predicted exactly once, from the characters before it
    in its window. Works in batches of windows, so memory stays small.
    """
    was_training = model.training
    model.eval()
    windows = sequential_windows(data, seq_len)
    total = 0.0
    for batch in windows.split(batch_size):
        logits, _ = model(batch[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                 reduction="sum").item()
    model.train(was_training)
    return total / windows[:, 1:].numel() / math.log(2)


def cosine_lr(peak: float, fraction: float, step: int, warmup_steps: int, final_fraction: float = 0.1) -> float:
    """Warm up linearly over ``warmup_steps``, then decay from ``peak`` to ``final_fraction * peak``
    along half a cosine as ``fraction`` (the share of the time budget used) goes from 0 to 1."""
    warmup = min(1.0, (step + 1) / warmup_steps)
    decay = final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
    return peak * warmup * decay


def budget_clock(device: torch.device | str) -> Callable[[], float]:
    """The clock to budget training on ``device`` by: CPU time on the CPU, which other programs
    cannot steal (run the model on one thread, so that it counts the work of one core), and
    the wall clock on an accelerator, whose work the CPU time does not see."""
    return time.process_time if torch.device(device).type == "cpu" else time.perf_counter


@dataclass
class Budget:
    """What a budgeted run did: training bpc per step, validation bpc at times (in training seconds)."""

    steps: int = 0
    seconds: float = 0.0
    train_bpc: list = field(default_factory=list)
    val_bpc: dict = field(default_factory=dict)  # training seconds -> bits per character


def train_for(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train: torch.Tensor,
              val: torch.Tensor, seconds: float, batch_size: int, seq_len: int,
              generator: torch.Generator, warmup_steps: int = 50, max_norm: float = 1.0,
              val_seq_len: int | None = None, evaluations: int = 6, desc: str = "training",
              clock: Callable[[], float] | None = None) -> Budget:
    """Train on random windows of ``train`` for ``seconds`` of ``clock``; return a :class:`Budget`.

    Each step: a batch of windows, the mean cross-entropy, backward, gradients clipped to
    global norm ``max_norm``, a step of ``optimizer`` at the learning rate of
    :func:`cosine_lr` (its peak is the optimizer's ``lr``). ``evaluations`` times, evenly
    spread over the budget, the clock is paused and the model scored on ``val`` (the last
    time at the end), in windows of ``val_seq_len`` (default ``seq_len``). Training windows
    come from ``generator``, so two runs see the same batches. The default ``clock`` is
    :func:`budget_clock` of the device ``train`` is on.
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    clock = clock or budget_clock(train.device)
    peak = optimizer.param_groups[0]["lr"]
    result = Budget()
    next_evaluation = seconds / evaluations
    bar = tqdm(total=round(seconds), desc=desc, unit="s")
    start = clock()
    while result.seconds < seconds:
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(peak, result.seconds / seconds, result.steps, warmup_steps)
        window = random_windows(train, batch_size, seq_len, generator)
        logits, _ = model(window[:, :-1])
        loss = sequence_loss(logits, window[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), max_norm)
        optimizer.step()
        result.steps += 1
        result.train_bpc.append(loss.item() / math.log(2))
        result.seconds = clock() - start
        if result.seconds >= next_evaluation or result.seconds >= seconds:
            paused = clock()
            result.val_bpc[result.seconds] = bits_per_character(model, val, val_seq_len or seq_len)
            start += clock() - paused  # scoring does not count against the budget
            next_evaluation += seconds / evaluations
            bar.set_postfix(val_bpc=f"{result.val_bpc[result.seconds]:.3f}")
        bar.update(min(round(result.seconds), round(seconds)) - bar.n)
    bar.close()
    for group in optimizer.param_groups:
        group["lr"] = peak  # leave the optimizer as it came
    return result
