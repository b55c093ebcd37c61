"""A tiny scalar automatic-differentiation engine: backpropagation, one number at a time.

Every operation on a :class:`Value` records a node of the computational graph: its inputs
and a ``_backward`` function that applies the chain rule locally, adding
(local derivative) x (gradient of the output) to the gradient of each input.
:meth:`Value.backward` runs those functions from the output back to the leaves, each node
after every node that uses it: reverse-mode automatic differentiation. Written for this
course in the spirit of Karpathy's micrograd.
"""
import math

import matplotlib.pyplot as plt


class Value:
    """A scalar that remembers how it was computed, so that it can be differentiated.

    ``data`` is the number, ``grad`` is d(output)/d(this value) after ``output.backward()``.
    Plain numbers mix in freely: ``2 * v``, ``1 - v`` and ``v / 3`` are Values too.
    """

    def __init__(self, data: float, children: tuple = (), op: str = "", label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None  # a leaf has no inputs to pass its gradient to
        self._children = children
        self.op = op
        self.label = label

    def __add__(self, other):
        """out = a + b; d out/da = 1, d out/db = 1."""
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        """out = a * b; d out/da = b, d out/db = a."""
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k: float):
        """out = a^k for a plain number k; d out/da = k a^(k-1)."""
        if not isinstance(k, (int, float)):
            raise TypeError(f"Value ** k needs a plain number k, got {type(k).__name__}")
        out = Value(self.data**k, (self,), f"**{k:g}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        """out = e^a; d out/da = e^a = out."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        """out = ln a (a > 0); d out/da = 1/a."""
        if self.data <= 0:
            raise ValueError(f"log needs a positive argument, got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        """out = tanh a; d out/da = 1 - tanh^2 a = 1 - out^2."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data**2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        """out = max(0, a); d out/da = 1 if a > 0 else 0 (PyTorch's choice at the kink)."""
        out = Value(max(0.0, self.data), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out

    # The other operations are compositions of the ones above, so their derivatives follow
    # from the chain rule, e.g. d(a/b)/db = a * d(b^-1)/db = -a/b^2.
    def __neg__(self):  # -a = a * (-1)
        return self * -1

    def __sub__(self, other):  # a - b = a + (-b)
        return self + (-other)

    def __truediv__(self, other):  # a / b = a * b^-1
        return self * _as_value(other) ** -1

    def __radd__(self, other):  # 2 + a
        return self + other

    def __rsub__(self, other):  # 2 - a
        return _as_value(other) - self

    def __rmul__(self, other):  # 2 * a
        return self * other

    def __rtruediv__(self, other):  # 2 / a
        return _as_value(other) / self

    def backward(self) -> None:
        """Set every node's ``grad`` to d(self)/d(node), by the chain rule in reverse order.

        A node's gradient is complete only once every node that uses it has passed its
        share back, so nodes are visited in reverse topological order. Gradients of earlier
        calls are overwritten (PyTorch instead adds to the leaves' ``.grad``).
        """
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # d self / d self
        for node in reversed(order):
            node._backward()

    def topological_order(self) -> list["Value"]:
        """Every node self depends on, each after all of its inputs; self comes last.

        Depth-first search with an explicit stack, so a graph deeper than Python's
        recursion limit (a long chain of operations) is fine.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))  # comes back after all its inputs
                stack.extend((child, False) for child in node._children)
        return order

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


def _as_value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def draw_graph(root: Value, ax=None):
    """Draw the graph that computed ``root``: inputs on the left, ``root`` on the right.

    Each box shows a node's operation (or label), its value and its gradient; arrows point
    the way the forward pass goes, and gradients flow back against them.
    """
    order = root.topological_order()
    depth = {id(root): 0}  # the longest path from a node to root: its column, counted from the right
    for node in reversed(order):  # every user of a node comes before the node itself
        for child in node._children:
            depth[id(child)] = max(depth.get(id(child), 0), depth[id(node)] + 1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    n_columns, n_rows = len(columns), max(len(c) for c in columns.values())
    position = {id(node): (n_columns - 1 - d, (len(nodes) - 1) / 2 - i)
                for d, nodes in columns.items() for i, node in enumerate(nodes)}

    ax = ax or plt.subplots(figsize=(2.2 * n_columns, 1.1 * n_rows + 0.6))[1]
    for node in order:
        x, y = position[id(node)]
        name = node.label or node.op or "leaf"
        ax.text(x, y, f"{name}\ndata {node.data:.4g}\ngrad {node.grad:.4g}", ha="center",
                va="center", fontsize=9, bbox=dict(boxstyle="round", facecolor="white"))
        for child in node._children:
            child_x, child_y = position[id(child)]
            ax.annotate("", xy=(x - 0.3, y), xytext=(child_x + 0.3, child_y),
                        arrowprops=dict(arrowstyle="->", color="gray"))
    ax.set(xlim=(-0.6, n_columns - 0.4), ylim=(-n_rows / 2, n_rows / 2))
    ax.axis("off")
    return ax
