"""Budgeted training and bits-per-character scoring of character language models."""
import math
import time

import pytest
import torch

from utils.gpt import GPT
from utils.lm import budget_clock, bits_per_character, cosine_lr, sequence_loss, train_for
from utils.rnn import CharRNN


class Uniform(torch.nn.Module):
    """Predicts every one of V characters with probability 1/V."""

    def __init__(self, vocab_size):
        super().__init__()
        self.vocab_size = vocab_size

    def forward(self, idx):
        return torch.zeros(*idx.shape, self.vocab_size), None


def test_a_uniform_model_scores_log2_v_bits():
    data = torch.randint(0, 13, (1000,))
    assert math.isclose(bits_per_character(Uniform(13), data, seq_len=37, batch_size=5), math.log2(13), rel_tol=1e-6)


def test_bits_per_character_scores_every_window_once(device):
    model = CharRNN(7, 8).double().to(device)
    data = torch.randint(0, 7, (301,), device=device)
    windows = data.unfold(0, 31, 30)  # 10 windows of 30 predictions, batched 3 at a time below
    logits, _ = model(windows[:, :-1])
    expected = sequence_loss(logits, windows[:, 1:]).item() / math.log(2)
    assert math.isclose(bits_per_character(model, data, seq_len=30, batch_size=3), expected, rel_tol=1e-9)
    assert model.training  # scoring leaves the mode as it found it


def test_cosine_schedule_warms_up_then_decays_to_the_final_fraction():
    assert cosine_lr(1.0, 0.0, step=0, warmup_steps=10) == pytest.approx(0.1)
    assert cosine_lr(1.0, 0.0, step=9, warmup_steps=10) == pytest.approx(1.0)
    assert cosine_lr(1.0, 0.5, step=100, warmup_steps=10) == pytest.approx(0.55)
    assert cosine_lr(1.0, 1.0, step=100, warmup_steps=10, final_fraction=0.1) == pytest.approx(0.1)
    assert cosine_lr(2.0, 3.0, step=100, warmup_steps=10, final_fraction=0.0) == pytest.approx(0.0)


def test_train_for_keeps_to_its_budget_and_learns(device):
    torch.manual_seed(0)
    text = torch.tensor([0, 1, 2, 3, 4] * 400, device=device)  # a cycle: perfectly predictable after one character
    model = GPT(5, 16, width=16, depth=1, heads=2).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    before = bits_per_character(model, text, 16)
    run = train_for(model, optimizer, text, text, seconds=1.5, batch_size=8, seq_len=16,
                    generator=torch.Generator().manual_seed(0), warmup_steps=5, evaluations=3)
    assert 1.5 <= run.seconds < 10 and run.steps == len(run.train_bpc) > 5
    assert len(run.val_bpc) == 3 and list(run.val_bpc)[-1] == run.seconds
    assert before > 2.0 and run.val_bpc[run.seconds] < 0.5
    assert optimizer.param_groups[0]["lr"] == 1e-2


def test_the_budget_is_counted_on_the_given_clock_not_the_wall():
    """A clock that ticks once per reading: the run is fixed by the clock, whatever the machine's load."""
    ticks = iter(range(1000))
    model = GPT(5, 8, width=8, depth=1, heads=2)
    run = train_for(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.arange(50) % 5, torch.arange(50) % 5,
                    seconds=5, batch_size=2, seq_len=8, generator=torch.Generator().manual_seed(0),
                    evaluations=1, clock=lambda: float(next(ticks)))
    assert run.steps == 5 and run.seconds == 5 and list(run.val_bpc) == [5]


def test_cpu_runs_are_budgeted_in_cpu_time():
    assert budget_clock("cpu") is time.process_time
    assert budget_clock(torch.device("cuda", 0)) is time.perf_counter
    with pytest.raises(ValueError, match="seconds must be positive"):
        train_for(Uniform(3), None, torch.zeros(10, dtype=torch.int64), torch.zeros(10, dtype=torch.int64), seconds=0,
                  batch_size=1, seq_len=2, generator=torch.Generator())
