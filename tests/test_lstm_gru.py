"""The LSTM and GRU, cells and whole sequences, against PyTorch's own, in values and gradients."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.layer_checks import assert_fused_equals_teaching_path, assert_same_values_and_gradients
from utils.lstm_gru import GRU, LSTM, CharLSTM, GRUCell, LSTMCell, open_keep_gate
from utils.rnn import RNN


def _random(*shape, device, requires_grad=True):
    return torch.randn(*shape, dtype=torch.float64, device=device, requires_grad=requires_grad)


@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_cell_matches_torch_in_values_and_gradients(device, with_state):
    ours = LSTMCell(5, 7).to(device, torch.float64)
    theirs = nn.LSTMCell(5, 7).to(device, torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = _random(4, 5, device=device)
    state = (_random(4, 7, device=device), _random(4, 7, device=device)) if with_state else None
    h, c = ours(x, state)
    h_ref, c_ref = theirs(x, state)
    wrt = [x, *(state or ())]
    # h and c together, so the gradient through both outputs is checked
    assert_same_values_and_gradients(torch.cat([h, c], 1), torch.cat([h_ref, c_ref], 1),
                                     [*wrt, *ours.parameters()], [*wrt, *theirs.parameters()])


@pytest.mark.parametrize("with_state", [False, True])
def test_gru_cell_matches_torch_in_values_and_gradients(device, with_state):
    ours = GRUCell(5, 7).to(device, torch.float64)
    theirs = nn.GRUCell(5, 7).to(device, torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = _random(4, 5, device=device)
    h = _random(4, 7, device=device) if with_state else None
    wrt = [x] + ([h] if with_state else [])
    assert_same_values_and_gradients(ours(x, h), theirs(x, h), [*wrt, *ours.parameters()],
                                     [*wrt, *theirs.parameters()])


@pytest.mark.parametrize("make_ours, make_theirs", [
    (lambda: LSTM(3, 4, num_layers=2), lambda: nn.LSTM(3, 4, num_layers=2, batch_first=True)),
    (lambda: GRU(3, 4, num_layers=2), lambda: nn.GRU(3, 4, num_layers=2, batch_first=True)),
    (lambda: LSTMCell(3, 4), lambda: nn.LSTMCell(3, 4)),
    (lambda: GRUCell(3, 4), lambda: nn.GRUCell(3, 4)),
])
def test_weights_copy_both_ways_and_start_like_torchs(make_ours, make_theirs):
    ours, theirs = make_ours(), make_theirs()
    ours.load_state_dict(theirs.state_dict())  # strict loading: the same names and shapes
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    ours = make_ours()
    theirs.load_state_dict(ours.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ours.parameters(), theirs.parameters()))
    bound = 1 / 4 ** 0.5  # PyTorch's initialisation: uniform in +-1/sqrt(H), H = 4
    for p in ours.parameters():
        assert p.abs().max() <= bound and p.std() > bound / 4  # spread over the range, not zeros


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_matches_torch_in_values_and_gradients(device, num_layers, with_state):
    N, T, D, H = 3, 9, 4, 6
    ours = LSTM(D, H, num_layers).to(device, torch.float64)
    theirs = nn.LSTM(D, H, num_layers, batch_first=True).to(device, torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = _random(N, T, D, device=device)
    state = (_random(num_layers, N, H, device=device), _random(num_layers, N, H, device=device)) if with_state else None
    out, (h, c) = ours(x, state)
    out_ref, (h_ref, c_ref) = theirs(x, state)
    assert out.shape == (N, T, H) and h.shape == c.shape == (num_layers, N, H)
    wrt = [x, *(state or ())]
    assert_same_values_and_gradients(torch.cat([out.flatten(), h.flatten(), c.flatten()]),
                                     torch.cat([out_ref.flatten(), h_ref.flatten(), c_ref.flatten()]),
                                     [*wrt, *ours.parameters()], [*wrt, *theirs.parameters()])


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_gru_matches_torch_in_values_and_gradients(device, num_layers, with_state):
    N, T, D, H = 3, 9, 4, 6
    ours = GRU(D, H, num_layers).to(device, torch.float64)
    theirs = nn.GRU(D, H, num_layers, batch_first=True).to(device, torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = _random(N, T, D, device=device)
    h0 = _random(num_layers, N, H, device=device) if with_state else None
    out, h = ours(x, h0)
    out_ref, h_ref = theirs(x, h0)
    assert out.shape == (N, T, H) and h.shape == (num_layers, N, H)
    wrt = [x] + ([h0] if with_state else [])
    assert_same_values_and_gradients(torch.cat([out.flatten(), h.flatten()]), torch.cat([out_ref.flatten(), h_ref.flatten()]),
                                     [*wrt, *ours.parameters()], [*wrt, *theirs.parameters()])


@pytest.mark.parametrize("layer", [LSTM, GRU])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_path_computes_what_the_teaching_path_computes(device, layer, num_layers, with_state):
    """The math is checked above, on the teaching path; the fused path must run PyTorch's layer on
    every one of our parameters: the same values, the same gradients on x, the state and each."""
    N, T, D, H = 3, 9, 4, 6
    ours = layer(D, H, num_layers).to(device, torch.float64)
    x = _random(N, T, D, device=device)
    h0 = _random(num_layers, N, H, device=device) if with_state else None
    state = (h0, _random(num_layers, N, H, device=device)) if with_state and layer is LSTM else h0
    assert_fused_equals_teaching_path(ours, x, state)


def test_the_layer_is_the_cell_applied_step_by_step(device):
    lstm, gru = LSTM(4, 5).to(device), GRU(4, 5).to(device)
    lstm_cell, gru_cell = LSTMCell(4, 5).to(device), GRUCell(4, 5).to(device)
    lstm_cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})  # weight_ih_l0 -> weight_ih
    gru_cell.load_state_dict({k[:-3]: v for k, v in gru.state_dict().items()})
    x = torch.randn(2, 7, 4, device=device)
    state, h = None, None
    for t in range(7):
        state, h = lstm_cell(x[:, t], state), gru_cell(x[:, t], h)
    torch.testing.assert_close(lstm(x)[1][0][0], state[0])
    torch.testing.assert_close(lstm(x)[1][1][0], state[1])
    torch.testing.assert_close(gru(x)[1][0], h)


def test_fused_path_trains_our_parameters(device):
    """The fused path must hand gradients to our own parameters, so an optimizer can train them."""
    model = GRU(3, 4, fused=True).to(device)
    model(torch.randn(2, 5, 3, device=device))[0].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_char_lstm_matches_torch_and_carries_its_state(device):
    V, H = 11, 8
    model = CharLSTM(V, H).to(device, torch.float64)
    lstm = nn.LSTM(V, H, batch_first=True).to(device, torch.float64)
    head = nn.Linear(H, V).to(device, torch.float64)
    lstm.load_state_dict(model.rnn.state_dict())
    head.load_state_dict(model.head.state_dict())
    idx = torch.randint(0, V, (3, 7), device=device)
    logits, (h, c) = model(idx)
    hidden, (h_ref, c_ref) = lstm(F.one_hot(idx, V).double())
    torch.testing.assert_close(logits, head(hidden))
    torch.testing.assert_close(h, h_ref)
    first, state = model(idx[:, :4])
    second, _ = model(idx[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)


@pytest.mark.parametrize("make", [lambda: LSTM(3, 4, num_layers=2), lambda: GRU(3, 4, num_layers=2),
                                  lambda: nn.LSTM(3, 4, num_layers=2), lambda: LSTMCell(3, 4), lambda: GRUCell(3, 4)],
                         ids=["LSTM", "GRU", "nn.LSTM", "LSTMCell", "GRUCell"])
def test_open_keep_gate_makes_every_layer_keep_sigmoid_of_the_bias(make):
    """With every other weight and bias at zero, one step from a zero input keeps sigmoid(b) of the state."""
    layer = make().double()
    with torch.no_grad():
        for name, p in layer.named_parameters():
            p.zero_()
            if name.startswith("bias_hh"):
                p[4:8] = 5.0  # the gate sees bias_ih + bias_hh: this half must be cleared
    assert open_keep_gate(layer, 2.0) is layer
    keep = torch.sigmoid(torch.tensor(2.0, dtype=torch.float64))
    state = torch.tensor([[0.5, -1.0, 2.0, 0.25]], dtype=torch.float64)
    zeros = torch.zeros_like(state)
    x = torch.zeros(1, 3, dtype=torch.float64)
    if isinstance(layer, LSTMCell):        # the candidate tanh(0) = 0 adds nothing: c_1 = f * c_0
        torch.testing.assert_close(layer(x, (zeros, state))[1], keep * state)
    elif isinstance(layer, GRUCell):       # the candidate is 0: h_1 = z * h_0
        torch.testing.assert_close(layer(x, state), keep * state)
    elif isinstance(layer, GRU):           # layer 0 keeps keep * h_0; layer 1 too, from its own h_0
        torch.testing.assert_close(layer(x[:, None], torch.stack([state, 2 * state]))[1],
                                   keep * torch.stack([state, 2 * state]))
    else:
        cells = torch.stack([state, 2 * state])
        torch.testing.assert_close(layer(x[:, None], (torch.zeros_like(cells), cells))[1][1], keep * cells)
    for name, p in layer.named_parameters():  # only the keep gate's half of bias_ih moved
        moved = p.nonzero()[:, 0].unique().tolist()
        assert moved == (list(range(4, 8)) if name.startswith("bias_ih") else []), name


def test_open_keep_gate_refuses_a_layer_without_gates():
    with pytest.raises(ValueError, match="expects an LSTM or a GRU .* got RNN"):
        open_keep_gate(RNN(3, 4), 1.0)


def test_char_lstm_starts_its_forget_gate_at_the_given_bias():
    lstm = CharLSTM(11, 8).rnn
    torch.testing.assert_close((lstm.bias_ih_l0 + lstm.bias_hh_l0)[8:16], torch.ones(8))
    lstm = CharLSTM(11, 8, num_layers=2, forget_bias=3.0).rnn
    torch.testing.assert_close((lstm.bias_ih_l1 + lstm.bias_hh_l1)[8:16], torch.full((8,), 3.0))


def test_bad_input_gets_a_clear_error():
    lstm, gru = LSTM(4, 6, num_layers=2), GRU(4, 6)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, T, 4\), got \(2, 5\)"):
        lstm(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, T, 4\), got \(2, 5, 3\)"):
        gru(torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match="x: expected dtype torch.float32, got torch.float64"):
        gru(torch.randn(2, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"h_0: expected shape \(2, 2, 6\), got \(2, 6\)"):
        lstm(torch.randn(2, 5, 4), (torch.zeros(2, 6), torch.zeros(2, 6)))  # the layer dimension is missing
    with pytest.raises(ValueError, match=r"c_0: expected shape \(2, 2, 6\), got \(2, 2, 5\)"):
        lstm(torch.randn(2, 5, 4), (torch.zeros(2, 2, 6), torch.zeros(2, 2, 5)))
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 4\), got \(2, 5, 4\)"):
        LSTMCell(4, 6)(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"c: expected shape \(2, 6\), got \(3, 6\)"):
        LSTMCell(4, 6)(torch.randn(2, 4), (torch.zeros(2, 6), torch.zeros(3, 6)))
    with pytest.raises(ValueError, match=r"h: expected shape \(2, 6\), got \(2, 4\)"):
        GRUCell(4, 6)(torch.randn(2, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="num_layers must be at least 1"):
        GRU(4, 6, num_layers=0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="x: expected a tensor on cpu, got one on cuda"):
            gru(torch.randn(2, 5, 4, device="cuda"))
