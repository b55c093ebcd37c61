"""The checks the layer tests make: our result equals PyTorch's, and so do the gradients; a layer's
``fused=True`` path computes what its teaching path computes, on the same parameters."""
import torch
from torch import nn


def with_weights_of(ours: nn.Module, twin: nn.Module) -> nn.Module:
    """``twin`` (PyTorch's layer, built with our layer's settings) on our device and dtype, holding
    a copy of our ``weight`` and ``bias``."""
    twin = twin.to(ours.weight.device, ours.weight.dtype)
    with torch.no_grad():
        twin.weight.copy_(ours.weight)
        if ours.bias is not None:
            twin.bias.copy_(ours.bias)
    return twin


def assert_same_values_and_gradients(ours: torch.Tensor, reference: torch.Tensor, ours_wrt, reference_wrt,
                                     **tolerances) -> None:
    """``ours`` equals ``reference``, and their gradients with respect to each pair of tensors in
    ``ours_wrt`` / ``reference_wrt`` (e.g. the input and each parameter) are equal as well.

    One random upstream gradient is pushed back through both, so every entry of each Jacobian
    counts. ``tolerances`` (``atol``, ``rtol``) go to ``torch.testing.assert_close``.
    """
    torch.testing.assert_close(ours, reference, **tolerances)
    upstream = torch.randn_like(reference)
    ours_grads = torch.autograd.grad(ours, list(ours_wrt), upstream)
    reference_grads = torch.autograd.grad(reference, list(reference_wrt), upstream)
    assert len(ours_grads) == len(reference_grads)
    for i, (a, b) in enumerate(zip(ours_grads, reference_grads)):
        torch.testing.assert_close(a, b, msg=lambda m, i=i: f"gradient {i}: {m}", **tolerances)


def tensors_in(nested) -> list[torch.Tensor]:
    """The tensors of a tensor, None, or (nested) tuples of them such as ``(out, (h, c))``."""
    if nested is None:
        return []
    if isinstance(nested, torch.Tensor):
        return [nested]
    return [t for part in nested for t in tensors_in(part)]


def flat(nested) -> torch.Tensor:
    """Every tensor of a layer's output flattened into one vector, so one check covers them all."""
    return torch.cat([t.flatten() for t in tensors_in(nested)])


def assert_fused_equals_teaching_path(layer: nn.Module, *inputs, **kwargs) -> None:
    """``layer`` computes the same with ``fused=True`` as with ``fused=False``, on the same
    parameters: the same values, and the same gradients with respect to the inputs that require
    one and to every parameter.

    The math is checked once, on the teaching path, against PyTorch's own layer; this checks
    what the fused path adds, that it hands our parameters and settings to PyTorch's kernel. A
    setting it dropped changes the values; a parameter it dropped gets no gradient, which
    ``torch.autograd.grad`` refuses with an error.
    """
    wrt = [x for x in tensors_in(inputs) if x.requires_grad] + list(layer.parameters())
    before = layer.fused
    try:
        layer.fused = False
        teaching = flat(layer(*inputs, **kwargs))
        layer.fused = True
        fused = flat(layer(*inputs, **kwargs))
    finally:
        layer.fused = before
    assert_same_values_and_gradients(fused, teaching, wrt, wrt)
