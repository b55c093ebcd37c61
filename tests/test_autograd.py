"""The scalar engine utils.autograd.Value against torch autograd: values and gradients."""
import math
import random
import sys

import matplotlib
import pytest
import torch

from utils.autograd import Value, draw_graph

matplotlib.use("Agg")

# Each operation is written once and applied to Values and to float64 tensors alike (both
# have +, -, *, /, ** and .exp/.log/.tanh/.relu). The guards (a*a + 1, tanh before exp) keep
# every intermediate value finite, so any mismatch is a wrong derivative, not an overflow.
UNARY = {
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 1).log(),
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "pow -1.5": lambda a: (a * a + 0.5) ** -1.5,
    "neg": lambda a: -a,
    "2 * a": lambda a: 2 * a,
    "1 - a": lambda a: 1 - a,
    "a + 0.5": lambda a: a + 0.5,
    "3 / (1 + a^2)": lambda a: 3 / (1 + a * a),
    "a / 4": lambda a: a / 4,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1),
}


def random_program(rng: random.Random, n_inputs: int, n_ops: int) -> list:
    """A random expression as a list of steps; operands are drawn from every earlier node,
    so nodes are often reused (the case where gradients must add up)."""
    program = []
    for i in range(n_ops):
        n_nodes = n_inputs + i
        if rng.random() < 0.5:
            program.append((rng.choice(list(UNARY)), rng.randrange(n_nodes)))
        else:
            program.append((rng.choice(list(BINARY)), rng.randrange(n_nodes), rng.randrange(n_nodes)))
    return program


def run(program, inputs: list) -> list:
    nodes = list(inputs)
    for name, *operands in program:
        op = UNARY.get(name) or BINARY[name]
        nodes.append(op(*(nodes[i] for i in operands)))
    return nodes


def compare_with_torch(program, xs: list[float]):
    values = [Value(x) for x in xs]
    ours = run(program, values)
    out = ours[-1] + sum(ours[len(xs):-1], Value(0.0)) * 0.1  # every node contributes
    out.backward()

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    theirs = run(program, tensors)
    reference = theirs[-1] + sum(theirs[len(xs):-1], torch.tensor(0.0, dtype=torch.float64)) * 0.1
    reference.backward()

    assert math.isfinite(reference.item())
    assert out.data == pytest.approx(reference.item(), rel=1e-10, abs=1e-12)
    for v, t in zip(values, tensors):
        expected = 0.0 if t.grad is None else t.grad.item()  # None: an input the expression never used
        assert v.grad == pytest.approx(expected, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("name", list(UNARY))
def test_each_unary_operation(name):
    for x in (-1.7, -0.3, 0.4, 2.1):
        compare_with_torch([(name, 0)], [x])


@pytest.mark.parametrize("name", list(BINARY))
def test_each_binary_operation(name):
    for x, y in ((-1.7, 0.6), (0.4, -2.2), (1.3, 1.1)):
        compare_with_torch([(name, 0, 1)], [x, y])


@pytest.mark.parametrize("seed", range(60))
def test_random_expressions(seed):
    rng = random.Random(seed)
    n_inputs = rng.randint(1, 4)
    program = random_program(rng, n_inputs, n_ops=rng.randint(3, 25))
    compare_with_torch(program, [rng.uniform(-2, 2) for _ in range(n_inputs)])


def test_reused_node_gradients_add_up():
    # f(a) = a*a + a, so df/da = 2a + 1: the three uses of a must all reach a.grad.
    a = Value(3.0)
    f = a * a + a
    f.backward()
    assert f.data == 12.0
    assert a.grad == 7.0


def test_deep_chain_beyond_the_recursion_limit():
    depth = 3 * sys.getrecursionlimit()
    x = Value(0.5)
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    y, u = x, t
    for _ in range(depth):
        y = 0.9 * y + 0.1 * y.tanh()
        u = 0.9 * u + 0.1 * u.tanh()
    y.backward()
    u.backward()
    assert y.data == pytest.approx(u.item(), rel=1e-10)
    assert x.grad == pytest.approx(t.grad.item(), rel=1e-8)
    assert x.grad != 0.0


def test_backward_twice_gives_the_same_gradients():
    a, b = Value(0.7), Value(-1.2)
    out = (a * b).tanh() + a
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first


def test_reverse_operations_with_plain_numbers():
    a = Value(4.0)
    for expression, value, grad in [
        (lambda: 2 * a, 8.0, 2.0),
        (lambda: 2 + a, 6.0, 1.0),
        (lambda: 2 - a, -2.0, -1.0),
        (lambda: 2 / a, 0.5, -2 / 16),
        (lambda: a / 2, 2.0, 0.5),
        (lambda: a - 1, 3.0, 1.0),
    ]:
        out = expression()
        out.backward()
        assert (out.data, a.grad) == pytest.approx((value, grad))


def test_relu_kink_has_zero_gradient_like_torch():
    a = Value(0.0)
    a.relu().backward()
    t = torch.tensor(0.0, requires_grad=True)
    t.relu().backward()
    assert a.grad == t.grad.item() == 0.0


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="plain number"):
        Value(2.0) ** Value(3.0)
    with pytest.raises(ValueError, match="positive"):
        Value(-1.0).log()


def test_topological_order_puts_inputs_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    order = d.topological_order()
    assert order[-1] is d
    assert len(order) == 4  # a, b, c, d: each node once, though a is used twice
    for i, node in enumerate(order):
        assert all(order.index(child) < i for child in node._children)


def test_draw_graph_shows_every_node():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = (a * b + a).tanh()
    out.backward()
    ax = draw_graph(out)
    texts = [t.get_text() for t in ax.texts if t.get_text()]  # arrows are empty texts
    assert len(texts) == len(out.topological_order()) == 5
    assert any(t.startswith("tanh") and f"data {out.data:.4g}" in t for t in texts)
    assert any(t.startswith("a\n") and f"grad {a.grad:.4g}" in t for t in texts)
