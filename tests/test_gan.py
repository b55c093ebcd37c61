"""GAN building blocks against PyTorch and SciPy: the transposed convolution, the losses, one
training step, and the scores that judge a generator."""
import copy
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn

from tests.layer_checks import assert_same_values_and_gradients, with_weights_of
from utils.gan import (ConvTranspose2d, DigitDiscriminator, DigitGenerator, MinibatchStd, class_coverage,
                       class_entropy, class_histogram, confident_share, conv_transpose2d_output_size,
                       discriminator_loss, feature_frechet_distance, frechet_distance, gan_step,
                       gaussian_statistics, generator_loss, interpolate_latents, modes_covered, near_mode_share,
                       ring_centres,
                       ring_of_gaussians)
from utils.testing import ForbiddenCallError, forbid

# (kernel, stride, padding, output_padding): DCGAN's 4-2-1, odd kernels, crops, 1x1, big strides
CASES = [(4, 2, 1, 0), (3, 2, 1, 1), (3, 1, 0, 0), (5, 3, 2, 2), (2, 2, 0, 0), (3, 2, 3, 1), (1, 1, 0, 0)]


@pytest.mark.parametrize("kernel, stride, padding, output_padding", CASES)
def test_output_size_formula_matches_pytorch(kernel, stride, padding, output_padding):
    for size in (1, 2, 5, 8):
        if (size - 1) * stride - 2 * padding + kernel + output_padding < 1:
            continue
        actual = F.conv_transpose2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                                    stride=stride, padding=padding, output_padding=output_padding).shape[-1]
        assert conv_transpose2d_output_size(size, kernel, stride, padding, output_padding) == actual


def test_output_size_inverts_the_convolution_size():
    # a stride-2 conv maps 7 and 8 to 4; the transposed conv maps 4 back to 7, or 8 with output_padding 1
    assert conv_transpose2d_output_size(4, 3, 2, 1) == 7
    assert conv_transpose2d_output_size(4, 3, 2, 1, output_padding=1) == 8


@pytest.mark.parametrize("args, message", [
    ((4, 3, 2, 1, 2), "output_padding must be smaller than stride"),
    ((1, 2, 1, 2, 0), "crops everything"),
    ((4, 3, 0, 0, 0), "stride must be an int >= 1"),
    ((0, 3, 1, 0, 0), "size must be an int >= 1"),
    ((4, 3.0, 1, 0, 0), "kernel_size must be an int"),
])
def test_output_size_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        conv_transpose2d_output_size(*args)


def _torch_twin(ours: ConvTranspose2d) -> nn.ConvTranspose2d:
    return with_weights_of(ours, nn.ConvTranspose2d(ours.in_channels, ours.out_channels, ours.kernel_size,
                                                    ours.stride, ours.padding, ours.output_padding,
                                                    bias=ours.bias is not None))


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, output_padding", CASES)
def test_conv_transpose_matches_torch_in_values_and_gradients(kernel, stride, padding, output_padding, bias, fused,
                                                              device):
    """Both paths against PyTorch's layer on its own copy of the weights: a setting the fused path
    dropped changes the values, a parameter it did not pass on gets no gradient (an error)."""
    ours = ConvTranspose2d(3, 4, kernel, stride, padding, output_padding, bias=bias, fused=fused).to(device,
                                                                                                     torch.float64)
    theirs = _torch_twin(ours)
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64, device=device, requires_grad=True)  # H != W
    assert_same_values_and_gradients(ours(x), theirs(x), [x, *ours.parameters()], [x, *theirs.parameters()])


def test_only_the_fused_path_runs_pytorchs_transposed_convolution():
    layer = ConvTranspose2d(3, 4, 4, stride=2, padding=1)
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    with forbid("torch.nn.functional.conv_transpose2d", task="the col2im path"):
        layer(x).sum().backward()  # matmul, fold and their gradients: no convolution kernel
    layer.fused = True
    with pytest.raises(ForbiddenCallError, match="conv_transpose2d"), \
            forbid("torch.nn.functional.conv_transpose2d", task="fused"):
        layer(x)


def test_conv_transpose_is_the_gradient_of_a_convolution():
    # <conv(u), v> = <u, conv_transpose(v)> for all u, v: the transposed conv is the adjoint
    layer = ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False).double()
    u = torch.randn(1, 2, 9, 9, dtype=torch.float64)
    v = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    conv_u = F.conv2d(u, layer.weight, stride=2, padding=1)  # (1, 3, 5, 5): weight read as (C_out, C_in, F, F)
    assert torch.allclose((conv_u * v).sum(), (u * layer(v)).sum())


@pytest.mark.parametrize("kernel, stride, padding", [(4, 2, 1), (3, 2, 0), (5, 3, 2), (3, 1, 1)])
def test_conv_transpose_is_a_convolution_of_the_zero_stuffed_input(kernel, stride, padding):
    layer = ConvTranspose2d(3, 2, kernel, stride, padding, bias=False).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    stuffed = torch.zeros(2, 3, 3 * stride + 1, 4 * stride + 1, dtype=torch.float64)
    stuffed[:, :, ::stride, ::stride] = x                      # S - 1 zeros between the pixels
    stuffed = F.pad(stuffed, (kernel - 1 - padding,) * 4)      # F - 1 - P around them
    kernel_as_conv = layer.weight.flip(2, 3).transpose(0, 1)   # flipped, channels swapped
    torch.testing.assert_close(layer(x), F.conv2d(stuffed, kernel_as_conv))


def test_conv_transpose_init_matches_torch_bounds():
    layer = ConvTranspose2d(64, 32, 4)
    bound = 1 / math.sqrt(32 * 16)
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.9 * bound
    assert layer.bias.abs().max() <= bound


def test_conv_transpose_rejects_wrong_input_and_settings():
    layer = ConvTranspose2d(3, 4, 4, 2, 1)
    with pytest.raises(ValueError, match=r"expected shape \(N, 3, H, W\)"):
        layer(torch.randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match="output_padding must be smaller than stride"):
        ConvTranspose2d(3, 4, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match="in_channels must be an int >= 1"):
        ConvTranspose2d(0, 4, 3)


# ---- losses and the training step -------------------------------------------------------------

def test_discriminator_loss_is_binary_cross_entropy():
    real, fake = torch.randn(7, 1) * 5, torch.randn(5, 1) * 5  # includes confident logits
    expected = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    torch.testing.assert_close(discriminator_loss(real, fake), expected)


def test_generator_losses_and_their_gradients():
    logits = torch.linspace(-30, 10, 41, dtype=torch.float64, requires_grad=True)
    ns = generator_loss(logits)
    torch.testing.assert_close(ns, F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))
    sat = generator_loss(logits, saturating=True)
    torch.testing.assert_close(sat, -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)))
    (g_ns,) = torch.autograd.grad(ns, logits)
    (g_sat,) = torch.autograd.grad(sat, logits)
    n = len(logits)
    torch.testing.assert_close(g_ns, (torch.sigmoid(logits) - 1) / n)  # near -1/n when D rejects (l << 0)
    torch.testing.assert_close(g_sat, -torch.sigmoid(logits) / n)      # vanishes there
    assert g_sat[0].abs() < 1e-12 and g_ns[0].abs() > 0.99 / n


def test_losses_stay_finite_for_extreme_logits():
    huge = torch.tensor([-1e4, 1e4])
    for value in (discriminator_loss(huge, huge), generator_loss(huge), generator_loss(huge, saturating=True)):
        assert torch.isfinite(value)


def test_losses_reject_empty_and_integer_logits():
    with pytest.raises(ValueError, match="at least one logit"):
        generator_loss(torch.zeros(0))
    with pytest.raises(TypeError, match="floating-point"):
        discriminator_loss(torch.zeros(3, dtype=torch.int64), torch.zeros(3))


def _round_by_hand(G, D, real, z, lr):
    """One round written out with autograd.grad, so no gradient can be left over from an earlier
    round: a step of D on its own loss (G's output treated as data), then a step of G through
    the updated D."""
    fake = G(z)
    d_grads = torch.autograd.grad(discriminator_loss(D(real), D(fake.detach())), list(D.parameters()))
    with torch.no_grad():
        for p, g in zip(D.parameters(), d_grads):
            p -= lr * g
    g_grads = torch.autograd.grad(generator_loss(D(fake)), list(G.parameters()))
    with torch.no_grad():
        for p, g in zip(G.parameters(), g_grads):
            p -= lr * g


def test_gan_step_updates_each_player_with_its_own_gradient():
    """Three rounds against the hand-written game. From the second round on, gradients that
    gan_step failed to clear (G's backward also fills D's) would pile onto the new ones."""
    torch.manual_seed(0)
    G, D = nn.Linear(2, 2), nn.Linear(2, 1)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    opt_g, opt_d = torch.optim.SGD(G.parameters(), lr=0.1), torch.optim.SGD(D.parameters(), lr=0.1)
    for round_ in range(3):
        real, z = torch.randn(8, 2), torch.randn(8, 2)
        d_loss, g_loss = gan_step(G, D, real, z, opt_g, opt_d)
        _round_by_hand(G_ref, D_ref, real, z, lr=0.1)
        for ours, ref in zip([*G.parameters(), *D.parameters()], [*G_ref.parameters(), *D_ref.parameters()]):
            torch.testing.assert_close(ours, ref, msg=lambda m: f"round {round_}: {m}")
    assert isinstance(d_loss, float) and isinstance(g_loss, float)


# ---- scores -----------------------------------------------------------------------------------

def test_ring_data_and_mode_coverage():
    gen = torch.Generator().manual_seed(0)
    centres = ring_centres(8, 2.0)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    data = ring_of_gaussians(4000, 8, 2.0, 0.05, generator=gen)
    assert modes_covered(data, centres, 0.05) == 8
    assert modes_covered(data[data[:, 0] > 1.9], centres, 0.05) == 1  # only the mode at (2, 0)
    assert modes_covered(torch.zeros(100, 2), centres, 0.05) == 0      # all mass at the centre, between modes


def test_near_mode_share_separates_a_smeared_generator_from_the_data():
    gen = torch.Generator().manual_seed(0)
    centres = ring_centres(8, 2.0)
    data = ring_of_gaussians(4000, 8, 2.0, 0.05, generator=gen)
    assert near_mode_share(data, centres, 0.05) == pytest.approx(1 - math.exp(-4.5), abs=0.01)  # 2-D: P(r < 3 std)
    # mass spread evenly along the circle: every mode gets its 1%, but few samples lie near one
    angles = 2 * math.pi * torch.rand(20000, generator=gen)
    smeared = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    arc_near_a_mode = 2 * math.asin(0.15 / 4)  # half-angle of the arc within 0.15 of a centre on a radius-2 circle
    assert modes_covered(smeared, centres, 0.05) == 8
    assert near_mode_share(smeared, centres, 0.05) == pytest.approx(8 * 2 * arc_near_a_mode / (2 * math.pi), abs=0.01)
    assert near_mode_share(torch.zeros(10, 2), centres, 0.05) == 0.0
    with pytest.raises(ValueError, match="at least one sample"):
        near_mode_share(torch.zeros(0, 2), centres, 0.05)


def test_class_histogram_coverage_and_entropy():
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    torch.testing.assert_close(class_histogram(labels, 5), torch.tensor([0.25, 0.25, 0.25, 0.25, 0.0], dtype=torch.float64))
    assert class_coverage(labels, 5) == 4
    assert class_entropy(labels, 5) == pytest.approx(2.0)                  # 4 equal classes: log2 4 bits
    assert class_entropy(torch.full((10,), 7), 10) == pytest.approx(0.0)   # one class: none
    assert class_entropy(torch.arange(10), 10) == pytest.approx(math.log2(10))
    many = torch.cat([torch.zeros(995, dtype=torch.int64), torch.arange(1, 6)])  # 5 strays of 1000
    assert class_coverage(many, 10, min_share=0.01) == 1 and class_coverage(many, 10, min_share=0.0) == 6
    with pytest.raises(ValueError, match="0..9"):
        class_histogram(torch.tensor([10]), 10)
    with pytest.raises(ValueError, match="at least one label"):
        class_entropy(torch.zeros(0, dtype=torch.int64), 10)


def test_confident_share():
    probs = torch.tensor([[0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.2, 0.8]])
    assert confident_share(probs, 0.9) == pytest.approx(0.5)
    assert confident_share(probs, 0.99) == 0.0


def test_frechet_distance_matches_scipy_sqrtm():
    torch.manual_seed(1)
    for d in (1, 3, 10):
        a, b = torch.randn(d, d, dtype=torch.float64), torch.randn(d, d, dtype=torch.float64)
        cov1, cov2 = a @ a.T + 0.1 * torch.eye(d, dtype=torch.float64), b @ b.T
        mu1, mu2 = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
        root = scipy.linalg.sqrtm(cov1.numpy() @ cov2.numpy())
        expected = ((mu1 - mu2) ** 2).sum().item() + np.trace(cov1.numpy() + cov2.numpy() - 2 * np.real(root))
        assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_frechet_distance_special_cases():
    mu, cov = torch.randn(4, dtype=torch.float64), torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-10)
    assert frechet_distance(mu, cov, mu + 2, cov) == pytest.approx(16.0)               # |shift|^2 = 4 * 2^2
    zero = torch.zeros(4, 4, dtype=torch.float64)                                      # a collapsed model
    assert frechet_distance(mu, cov, mu, zero) == pytest.approx(10.0)                  # tr(cov)
    # 1-D: (mu1 - mu2)^2 + (sigma1 - sigma2)^2
    one = lambda v: torch.tensor([v], dtype=torch.float64)
    assert frechet_distance(one(0.0), one(4.0).view(1, 1), one(1.0), one(9.0).view(1, 1)) == pytest.approx(1 + 1)


def test_feature_frechet_distance_and_statistics():
    torch.manual_seed(2)
    x = torch.randn(500, 3)
    mean, cov = gaussian_statistics(x)
    torch.testing.assert_close(cov, torch.from_numpy(np.cov(x.double().numpy(), rowvar=False)))
    assert feature_frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert feature_frechet_distance(x, x + 1) == pytest.approx(3.0, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2 rows"):
        gaussian_statistics(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="one D"):
        frechet_distance(mean, cov, torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64))


def test_minibatch_std_appends_the_batch_spread():
    x = torch.randn(16, 3, dtype=torch.float64, requires_grad=True)
    out = MinibatchStd()(x)
    assert out.shape == (16, 4)
    torch.testing.assert_close(out[:, :3], x)
    torch.testing.assert_close(out[:, 3], x.std(dim=0).mean().expand(16))
    copies = MinibatchStd()(torch.ones(8, 3))  # a collapsed batch: no spread at all
    assert torch.all(copies[:, 3] == 0)
    out[:, 3].sum().backward()  # the spread is differentiable, so G feels the penalty
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="at least 2 samples"):
        MinibatchStd()(torch.zeros(1, 3))


def test_digit_gan_shapes_and_range():
    G, D = DigitGenerator(latent_dim=8), DigitDiscriminator()
    images = G(torch.randn(5, 8))
    assert images.shape == (5, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    assert D(images).shape == (5, 1)
    with pytest.raises(ValueError, match=r"expected shape \(N, 8\)"):
        G(torch.randn(5, 16))


def test_interpolate_latents_ends_and_steps():
    z0, z1 = torch.randn(4), torch.randn(4)
    path = interpolate_latents(z0, z1, 5)
    assert path.shape == (5, 4)
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    torch.testing.assert_close(path[2], (z0 + z1) / 2)


def test_latent_walk_figure_and_widget():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from utils.widgets import latent_explorer, plot_latent_walk
    G = DigitGenerator(latent_dim=4).eval()
    fig = plot_latent_walk(G, torch.zeros(4), torch.ones(4), steps=6)
    assert len(fig.axes) == 6
    plt.close(fig)
    assert latent_explorer(G, torch.zeros(4), torch.ones(4)) is not None
    plt.close("all")
