"""Generative adversarial networks: the up-sampling layer, the losses, one training step, and
the numbers that judge a generator.

A generator G maps noise z to samples; a discriminator D maps a sample to a logit, the log-odds
that it is real. Every loss here takes logits, never probabilities: ``softplus`` computes
-log sigmoid(-z) = log(1 + e^z) without overflow, where log(1 - sigmoid(z)) would round to
log(0) as soon as D is confident.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_tensor
from .conv import Conv2d, Flatten
from .layers import Linear


def conv_transpose2d_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                                 output_padding: int = 0) -> int:
    """Output width of a transposed convolution: (H - 1) S - 2P + F + output_padding.

    Each of the H inputs paints an F-wide copy of the kernel, S apart, so the copies span
    (H - 1) S + F; P is then cut from each side. It inverts the convolution formula
    floor((H + 2P - F) / S) + 1; ``output_padding`` (< S) picks among the sizes the floor merged.
    """
    _check_ints(size=(size, 1))
    _check_settings(kernel_size, stride, padding, output_padding)
    out = (size - 1) * stride - 2 * padding + kernel_size + output_padding
    if out < 1:
        raise ValueError(f"padding {padding} crops everything: the output would have size {out}")
    return out


def _check_ints(**settings: tuple[int, int]) -> None:
    """Each setting is (value, least allowed): an int, not a bool, at least that large."""
    for name, (value, least) in settings.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def _check_settings(kernel_size: int, stride: int, padding: int, output_padding: int) -> None:
    _check_ints(kernel_size=(kernel_size, 1), stride=(stride, 1), padding=(padding, 0),
                output_padding=(output_padding, 0))
    if output_padding >= stride:  # PyTorch's rule: a larger one would add rows no input reaches
        raise ValueError(f"output_padding must be smaller than stride ({stride}), got {output_padding}")


class ConvTranspose2d(nn.Module):
    """The transposed convolution ("up-convolution") that lets a generator grow an image.

    Each input pixel scatters a weighted copy of the kernel onto the output, S pixels apart:

        Y[o, iS + m - P, jS + n - P] += sum_c W[c, o, m, n] X[c, i, j],  plus b[o] everywhere.

    It is the gradient (the transpose) of a convolution with the same F, S, P, and equals an
    ordinary convolution, kernel flipped and channels swapped, of the input with S - 1 zeros
    between its pixels and F - 1 - P around them. Computed as the
    transpose of im2col: one matmul gives every pixel's kernel copy, ``F.fold`` (col2im) adds
    the copies into place, then P is cropped from each side. Shapes: x (N, C_in, H, W) ->
    (N, C_out, H_out, W_out) with
    H_out = (H - 1) S - 2P + F + output_padding; weight (C_in, C_out, F, F) as in
    ``torch.nn.ConvTranspose2d``, bias (C_out,). Initialised like it: uniform in
    +-1/sqrt(C_out F^2). ``fused=True`` calls ``F.conv_transpose2d`` on the same parameters
    instead: PyTorch's kernels, no copies to add up.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, bias: bool = True, fused: bool = False):
        super().__init__()
        _check_ints(in_channels=(in_channels, 1), out_channels=(out_channels, 1))
        _check_settings(kernel_size, stride, padding, output_padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.output_padding = padding, output_padding
        self.fused = fused
        bound = 1 / math.sqrt(out_channels * kernel_size * kernel_size)
        shape = (in_channels, out_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.in_channels, "H", "W"), dtype=self.weight.dtype,
                     device=self.weight.device)
        n, c, h, w = x.shape
        k, s, p, extra = self.kernel_size, self.stride, self.padding, self.output_padding
        h_out = conv_transpose2d_output_size(h, k, s, p, extra)
        w_out = conv_transpose2d_output_size(w, k, s, p, extra)
        if self.fused:
            return F.conv_transpose2d(x, self.weight, self.bias, s, p, extra)
        # every input pixel's kernel copy: (N, C_out*F*F, H*W), one matmul over the input channels
        copies = self.weight.reshape(c, -1).T @ x.reshape(n, c, h * w)
        # col2im, the transpose of im2col: add each copy into the output at (iS, jS), overlaps summed
        full = ((h - 1) * s + k + extra, (w - 1) * s + k + extra)
        y = F.fold(copies, full, kernel_size=k, stride=s)
        y = y[:, :, p:p + h_out, p:p + w_out]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y.contiguous()

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, output_padding={self.output_padding}, "
                f"bias={self.bias is not None}, fused={self.fused}")


class DigitGenerator(nn.Module):
    """A DCGAN-style generator for 8x8 images: noise z (N, D) -> images (N, 1, 8, 8) in [0, 1].

    Linear to 64 maps of 2x2, then two transposed convolutions (F=4, S=2, P=1) that double the
    size each: 2 -> 4 -> 8. Batch normalisation and ReLU inside, a sigmoid at the end to match
    the pixel range; no pooling and no fully connected hidden layers (Radford et al. 2015's rules).
    """

    def __init__(self, latent_dim: int = 16, channels: int = 64):
        super().__init__()
        self.latent_dim, self.channels = latent_dim, channels
        self.project = nn.Sequential(Linear(latent_dim, channels * 4), nn.BatchNorm1d(channels * 4), nn.ReLU())
        self.upsample = nn.Sequential(
            ConvTranspose2d(channels, channels // 2, 4, stride=2, padding=1), nn.BatchNorm2d(channels // 2), nn.ReLU(),
            ConvTranspose2d(channels // 2, 1, 4, stride=2, padding=1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "z", shape=("N", self.latent_dim), dtype="floating")
        return self.upsample(self.project(z).view(-1, self.channels, 2, 2))


class DigitDiscriminator(nn.Module):
    """A DCGAN-style discriminator for 8x8 images: (N, 1, 8, 8) -> one logit per image (N, 1).

    Two stride-2 convolutions (8 -> 4 -> 2) with LeakyReLU(0.2), no pooling, then a linear
    read-out of the 2x2 maps.
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            Conv2d(1, channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            Flatten(), Linear(2 * channels * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", 1, 8, 8), dtype="floating")
        return self.net(x)


def _check_logits(logits: torch.Tensor, name: str) -> None:
    check_tensor(logits, name, dtype="floating")
    if logits.numel() == 0:
        raise ValueError(f"{name}: expected at least one logit, got an empty tensor")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's loss: -mean log D(x) - mean log(1 - D(G(z))), with D = sigmoid(logit).

    The binary cross-entropy of "real" (label 1) on real samples plus that of "fake" (label 0)
    on generated ones; -log sigmoid(l) = softplus(-l) and -log(1 - sigmoid(l)) = softplus(l).
    Logits of any shape; a scalar comes back.
    """
    _check_logits(real_logits, "real_logits")
    _check_logits(fake_logits, "fake_logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """G's loss on D's logits for generated samples.

    Saturating (the minimax game as written): mean log(1 - D(G(z))) = -mean softplus(l); its
    gradient -sigmoid(l) vanishes when D rejects the fakes (l << 0), i.e. early in training.
    Non-saturating (Goodfellow et al. 2014's fix): -mean log D(G(z)) = mean softplus(-l); its
    gradient sigmoid(l) - 1 is near -1 exactly then. Both push l up.
    """
    _check_logits(fake_logits, "fake_logits")
    return -F.softplus(fake_logits).mean() if saturating else F.softplus(-fake_logits).mean()


def gan_step(generator: nn.Module, discriminator: nn.Module, real: torch.Tensor, z: torch.Tensor,
             opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             saturating: bool = False) -> tuple[float, float]:
    """One round of the game: a step of D on (real, G(z)), then a step of G on the same G(z).

    D's step sees ``fake.detach()``, so its loss does not reach back into G; G's step then asks
    the freshly updated D. Returns (D's loss, G's loss) as floats.
    """
    check_tensor(real, "real", dtype="floating")
    check_tensor(z, "z", dtype="floating")
    fake = generator(z)
    d_loss = discriminator_loss(discriminator(real), discriminator(fake.detach()))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    g_loss = generator_loss(discriminator(fake), saturating)
    opt_g.zero_grad()
    g_loss.backward()  # also fills D's gradients; D's next zero_grad clears them
    opt_g.step()
    return d_loss.item(), g_loss.item()


class MinibatchStd(nn.Module):
    """Appends one feature to every sample: the mean over features of the batch's standard deviation.

    (N, D) -> (N, D + 1). A discriminator that sees it can tell a collapsed batch of near-copies
    (std near 0) from a varied real one, so the generator is pushed to spread out: the
    "minibatch standard deviation" of Karras et al. (2018), a simple form of Salimans et al.'s
    (2016) minibatch discrimination. Needs batches of at least 2.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", "D"), dtype="floating")
        if len(x) < 2:
            raise ValueError(f"x: a batch standard deviation needs at least 2 samples, got {len(x)}")
        spread = x.std(dim=0).mean()
        return torch.cat([x, spread.expand(len(x), 1)], dim=1)


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` points on the straight line from z0 to z1 (both (D,)), ends included: (steps, D)."""
    check_tensor(z0, "z0", shape=("D",), dtype="floating")
    check_tensor(z1, "z1", shape=(len(z0),), dtype="floating")
    t = torch.linspace(0, 1, steps, device=z0.device, dtype=z0.dtype).unsqueeze(1)
    return (1 - t) * z0 + t * z1


# ---- Judging a generator -----------------------------------------------------------------------

def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """n points (n, 2) from ``modes`` equally weighted Gaussians on a circle of ``radius``."""
    centres = ring_centres(modes, radius)
    which = torch.randint(modes, (n,), generator=generator)
    return centres[which] + std * torch.randn(n, 2, generator=generator)


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The (modes, 2) centres of :func:`ring_of_gaussians`, the first on the positive x axis."""
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def _nearest_mode(samples: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance (N,) from each of ``samples`` (N, 2) to its nearest centre of (K, 2), and that centre's index."""
    check_tensor(samples, "samples", shape=("N", 2), dtype="floating")
    check_tensor(centres, "centres", shape=("K", 2), dtype="floating")
    if len(samples) == 0:
        raise ValueError("samples: expected at least one sample, got none")
    return torch.cdist(samples.float().cpu(), centres.float().cpu()).min(dim=1)


def modes_covered(samples: torch.Tensor, centres: torch.Tensor, std: float, min_share: float = 0.01) -> int:
    """How many modes get at least ``min_share`` of the samples within 3 std of their centre.

    A measure of diversity: a generator that puts all its mass on one or two modes scores 1 or
    2, however sharp those samples are. It says nothing of quality: a generator that smears its
    mass along the circle through every mode still lands 1% near each and scores all of them,
    so read it next to :func:`near_mode_share`.
    """
    nearest, which = _nearest_mode(samples, centres)
    counts = torch.bincount(which[nearest < 3 * std], minlength=len(centres))
    return int((counts >= max(1, min_share * len(samples))).sum())


def near_mode_share(samples: torch.Tensor, centres: torch.Tensor, std: float) -> float:
    """The share of ``samples`` (N, 2) within 3 std of some mode's centre: a measure of quality.

    About 0.989 for the data themselves (a 2-D Gaussian puts 1 - e^(-9/2) of its mass within
    3 std of its centre); low for a generator whose samples lie between the modes, even one that
    :func:`modes_covered` credits with every mode.
    """
    nearest, _ = _nearest_mode(samples, centres)
    return (nearest < 3 * std).float().mean().item()


def class_histogram(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Share of ``labels`` (N,) int in each class: (num_classes,), summing to 1."""
    check_tensor(labels, "labels", shape=("N",), dtype=torch.int64)
    if len(labels) == 0:
        raise ValueError("labels: expected at least one label, got none")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {labels.min().item()}..{labels.max().item()}")
    return torch.bincount(labels.cpu(), minlength=num_classes).double() / len(labels)


def class_coverage(labels: torch.Tensor, num_classes: int, min_share: float = 0.01) -> int:
    """How many classes receive at least ``min_share`` of the predicted labels (N,).

    The threshold keeps a few stray misclassified samples from counting as a produced class.
    """
    share = class_histogram(labels, num_classes)
    return int((share >= max(min_share, 1e-12)).sum())


def class_entropy(labels: torch.Tensor, num_classes: int) -> float:
    """Entropy in bits of the predicted-class histogram: H = -sum_k p_k log2 p_k (0 log 0 = 0).

    log2(num_classes) (3.32 bits for 10) when every class is equally frequent, 0 when all
    samples fall in one class.
    """
    p = class_histogram(labels, num_classes)
    p = p[p > 0]
    return float((p * (1 / p).log2()).sum())  # written so one class gives +0.0, not -0.0


def confident_share(probabilities: torch.Tensor, threshold: float = 0.9) -> float:
    """Share of rows of ``probabilities`` (N, C) whose largest class probability is >= threshold."""
    check_tensor(probabilities, "probabilities", shape=("N", "C"), dtype="floating")
    if len(probabilities) == 0:
        raise ValueError("probabilities: expected at least one row, got none")
    return (probabilities.max(dim=1).values >= threshold).double().mean().item()


def gaussian_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and covariance (D, D) of ``features`` (N, D), in float64 (unbiased, N - 1)."""
    check_tensor(features, "features", shape=("N", "D"), dtype="floating")
    if len(features) < 2:
        raise ValueError(f"features: a covariance needs at least 2 rows, got {len(features)}")
    x = features.detach().double()
    return x.mean(dim=0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, via eigh."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein) distance squared between N(mu1, cov1) and N(mu2, cov2):

        d^2 = |mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)).

    tr((cov1 cov2)^(1/2)) equals the sum of the square roots of the eigenvalues of the
    symmetric matrix cov1^(1/2) cov2 cov1^(1/2), which ``eigh`` computes stably. Shapes:
    mu (D,), cov (D, D). FID is this distance between Inception features of real and
    generated images (Heusel et al. 2017).
    """
    for name, t, shape in (("mu1", mu1, ("D",)), ("cov1", cov1, ("D", "D")), ("mu2", mu2, ("D",)),
                           ("cov2", cov2, ("D", "D"))):
        check_tensor(t, name, shape=shape, dtype="floating")
    d = len(mu1)
    if cov1.shape != (d, d) or mu2.shape != (d,) or cov2.shape != (d, d):
        raise ValueError(f"expected mu (D,) and cov (D, D) with one D, got {tuple(mu1.shape)}, "
                         f"{tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}")
    mu1, cov1, mu2, cov2 = (t.detach().double().cpu() for t in (mu1, cov1, mu2, cov2))
    root1 = _psd_sqrt(cov1)
    cross = torch.linalg.eigvalsh(root1 @ cov2 @ root1).clamp_min(0).sqrt().sum()
    return float((mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * cross)


def feature_frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """:func:`frechet_distance` between Gaussians fitted to two sets of features (N, D) and (M, D)."""
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))
