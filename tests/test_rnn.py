"""The vanilla RNN, the char-level model, clipping and sampling against PyTorch's own."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients
from utils.rnn import RNN, CharRNN, RNNCell, clip_grad_norm, generate, sample_next


def _copy_parameters(source: nn.Module, target: nn.Module) -> None:
    """Load ``source``'s parameters into ``target``: the names match, so strict loading works."""
    target.load_state_dict(source.state_dict())


def test_rnn_cell_matches_torch_in_values_and_gradients(device):
    ours = RNNCell(5, 7).to(device, torch.float64)
    theirs = nn.RNNCell(5, 7, nonlinearity="tanh").to(device, torch.float64)
    _copy_parameters(ours, theirs)
    x = torch.randn(4, 5, dtype=torch.float64, device=device, requires_grad=True)
    h = torch.randn(4, 7, dtype=torch.float64, device=device, requires_grad=True)
    assert_same_values_and_gradients(ours(x, h), theirs(x, h), [x, h, *ours.parameters()],
                                     [x, h, *theirs.parameters()])


def test_rnn_cell_default_state_is_zero(device):
    cell = RNNCell(3, 4).to(device)
    x = torch.randn(2, 3, device=device)
    assert torch.equal(cell(x), cell(x, torch.zeros(2, 4, device=device)))


@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_matches_torch_in_values_and_gradients(device, with_h0):
    N, T, D, H = 3, 9, 4, 6
    ours = RNN(D, H).to(device, torch.float64)
    theirs = nn.RNN(D, H, batch_first=True).to(device, torch.float64)
    _copy_parameters(ours, theirs)
    x = torch.randn(N, T, D, dtype=torch.float64, device=device, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, device=device, requires_grad=True) if with_h0 else None
    out_ours, h_ours = ours(x, h0)
    out_theirs, h_theirs = theirs(x, h0.unsqueeze(0) if with_h0 else None)
    assert out_ours.shape == (N, T, H) and h_ours.shape == (N, H)
    assert torch.allclose(out_ours, out_theirs)
    assert torch.allclose(h_ours, h_theirs.squeeze(0))
    # A loss that uses every output and the last state, so gradients flow back through time.
    inputs = [x, *ours.parameters()] + ([h0] if with_h0 else [])
    inputs_theirs = [x, *theirs.parameters()] + ([h0] if with_h0 else [])
    w = torch.randn(N, T, H, dtype=torch.float64, device=device)
    grads_ours = torch.autograd.grad((out_ours * w).sum() + h_ours.pow(2).sum(), inputs)
    grads_theirs = torch.autograd.grad((out_theirs * w).sum() + h_theirs.pow(2).sum(), inputs_theirs)
    for g_ours, g_theirs in zip(grads_ours, grads_theirs, strict=True):
        assert torch.allclose(g_ours, g_theirs)


def test_rnn_is_the_cell_applied_step_by_step(device):
    rnn = RNN(3, 5).to(device)
    cell = RNNCell(3, 5).to(device)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(rnn, f"{name}_l0"))
    x = torch.randn(2, 6, 3, device=device)
    outputs, h_last = rnn(x)
    h = None
    for t in range(6):
        h = cell(x[:, t], h)
        assert torch.allclose(outputs[:, t], h, atol=1e-6)
    assert torch.allclose(h_last, h, atol=1e-6)


def test_char_rnn_is_one_hot_rnn_then_linear(device):
    V, H = 11, 8
    model = CharRNN(V, H).to(device, torch.float64)
    rnn = nn.RNN(V, H, batch_first=True).to(device, torch.float64)
    head = nn.Linear(H, V).to(device, torch.float64)
    _copy_parameters(model.rnn, rnn)
    _copy_parameters(model.head, head)
    idx = torch.randint(0, V, (3, 7), device=device)
    logits, h_last = model(idx)
    hidden, h_theirs = rnn(F.one_hot(idx, V).double())
    assert logits.shape == (3, 7, V) and h_last.shape == (3, H)
    assert torch.allclose(logits, head(hidden))
    assert torch.allclose(h_last, h_theirs.squeeze(0))
    # Carrying the state across two halves equals reading the whole sequence at once.
    first, h_mid = model(idx[:, :4])
    second, _ = model(idx[:, 4:], h_mid)
    assert torch.allclose(torch.cat([first, second], dim=1), logits)


def test_rnn_rejects_bad_shapes_dtypes_and_devices():
    rnn = RNN(4, 6)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, T, 4\), got \(2, 5\)"):
        rnn(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"x: expected shape"):
        rnn(torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match="x: expected dtype torch.float32, got torch.float64"):
        rnn(torch.randn(2, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"h: expected shape \(2, 6\), got \(1, 2, 6\)"):
        rnn(torch.randn(2, 5, 4), torch.zeros(1, 2, 6))  # PyTorch's (layers, N, H) layout
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 4\)"):
        RNNCell(4, 6)(torch.randn(2, 5, 4))
    model = CharRNN(10, 6)
    with pytest.raises(TypeError, match="idx: expected dtype torch.int64"):
        model(torch.zeros(2, 3))  # float "characters"
    with pytest.raises(ValueError, match=r"idx: expected shape \(N, T\)"):
        model(torch.zeros(3, dtype=torch.int64))
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="x: expected a tensor on cpu, got one on cuda"):
            rnn(torch.randn(2, 5, 4, device="cuda"))


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])
def test_clip_grad_norm_matches_torch(device, max_norm):
    shapes = [(5, 3), (3,), (2, 2, 2)]
    ours = [torch.zeros(s, device=device, requires_grad=True) for s in shapes]
    theirs = [torch.zeros(s, device=device, requires_grad=True) for s in shapes]
    for a, b in zip(ours, theirs):
        a.grad = 2 * torch.randn_like(a)
        b.grad = a.grad.clone()
    total_ours = clip_grad_norm(ours, max_norm)
    total_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert torch.allclose(total_ours, total_theirs)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a.grad, b.grad)
    after = torch.stack([a.grad.norm() for a in ours]).norm()
    assert after <= max_norm * (1 + 1e-5)
    if max_norm > total_ours:  # nothing to clip: the gradients are left alone, never scaled up
        assert torch.allclose(after, total_ours)


def test_clip_grad_norm_keeps_the_direction_and_skips_missing_grads():
    p, q, unused = (torch.zeros(2, requires_grad=True) for _ in range(3))
    p.grad, q.grad = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])
    total = clip_grad_norm([p, q, unused], max_norm=1.0)
    assert torch.isclose(total, torch.tensor(5.0))
    assert torch.allclose(torch.cat([p.grad, q.grad]), torch.tensor([0.6, 0.0, 0.0, 0.8]), atol=1e-6)
    assert unused.grad is None
    with pytest.raises(ValueError, match="max_norm must be positive"):
        clip_grad_norm([p], 0.0)


def test_sample_next_is_reproducible_with_a_seeded_generator(device):
    logits = torch.randn(6, 20, device=device)
    a = sample_next(logits, 1.0, torch.Generator().manual_seed(3))
    b = sample_next(logits, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.shape == (6,) and a.dtype == torch.int64 and a.device.type == device.type
    expected = torch.multinomial(torch.softmax(logits.double().cpu(), dim=-1), 1,
                                 generator=torch.Generator().manual_seed(3)).squeeze(1)
    assert torch.equal(a.cpu(), expected)


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([[0.0, 3.0, 1.0, -2.0]])
    gen = torch.Generator().manual_seed(0)
    cold = torch.cat([sample_next(logits, 0.01, gen) for _ in range(200)])
    assert (cold == 1).all()  # near temperature 0: always the argmax
    many = logits.expand(20000, 4)
    hot = torch.bincount(sample_next(many, 100.0, gen), minlength=4) / 20000
    assert (hot - 0.25).abs().max() < 0.03  # very hot: close to uniform
    normal = torch.bincount(sample_next(many, 1.0, gen), minlength=4) / 20000
    assert (normal - torch.softmax(logits[0], dim=0)).abs().max() < 0.02  # temperature 1: softmax itself


def test_sample_next_rejects_bad_input():
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_next(torch.randn(2, 5), 0.0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        sample_next(torch.randn(2, 5), float("nan"))
    with pytest.raises(ValueError, match=r"logits: expected shape \(N, C\)"):
        sample_next(torch.randn(5))
    with pytest.raises(TypeError, match="logits: expected a floating-point tensor"):
        sample_next(torch.ones(2, 5, dtype=torch.int64))


def test_generate_shapes_and_reproducibility(device):
    model = CharRNN(12, 16).to(device)
    prompt = torch.tensor([1, 2, 3])
    a = generate(model, prompt, 25, temperature=0.8, generator=torch.Generator().manual_seed(1))
    b = generate(model, prompt, 25, temperature=0.8, generator=torch.Generator().manual_seed(1))
    assert a.shape == (25,) and a.dtype == torch.int64 and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert 0 <= a.min() and a.max() < 12
    assert generate(model, prompt, 0).shape == (0,)
    with pytest.raises(ValueError, match="prompt must hold at least one character"):
        generate(model, torch.tensor([], dtype=torch.int64), 5)
    with pytest.raises(TypeError, match="prompt: expected dtype torch.int64"):
        generate(model, torch.tensor([1.0, 2.0]), 5)
    with pytest.raises(ValueError, match="length must be at least 0"):
        generate(model, prompt, -1)


def test_generate_follows_a_model_that_is_certain():
    """A model whose head always favours 'next id = 3' strongly must generate only 3s when cold."""
    model = CharRNN(5, 4)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 10.0, 0.0]))
    out = generate(model, torch.tensor([0]), 50, temperature=0.1, generator=torch.Generator().manual_seed(0))
    assert (out == 3).all()


def test_temperature_plot_and_explorer():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.text import Vocabulary
    from utils.widgets import plot_temperatures, temperature_explorer

    logits = torch.tensor([2.0, 0.0, 1.0, -1.0])
    axes = plot_temperatures(logits, ["a", "\n", " ", "b"], temperatures=(0.5, 2.0), top=3)
    assert len(axes) == 2
    for ax, temperature in zip(axes, (0.5, 2.0)):
        heights = torch.tensor([bar.get_height() for bar in ax.patches], dtype=torch.float64)
        expected = torch.softmax(logits.double() / temperature, dim=0)[[0, 2, 1]]  # most likely first
        assert torch.allclose(heights, expected)
        assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "' '", "\\n"]
    plt.close("all")
    vocab = Vocabulary("def f(x):\n    return x\n")
    widget = temperature_explorer(CharRNN(len(vocab), 8), vocab, prompt="def ", length=10)
    assert {child.description for child in widget.children[:2]} == {"prompt", "temperature"}
    plt.close("all")
