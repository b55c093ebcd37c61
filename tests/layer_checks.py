"""The check every from-scratch layer test makes: our result equals PyTorch's, and so do the gradients."""
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
