"""Making training cheaper and models smaller: loss scaling, distillation, pruning, int8, and a scaling curve.

Each piece is the textbook version of what PyTorch's engines do, small enough to read and
checked against them in the tests: :class:`DynamicLossScaler` against ``torch.amp.GradScaler``,
:func:`distillation_loss` against ``F.kl_div``, :func:`magnitude_mask` against
``torch.nn.utils.prune``, :class:`Int8Linear` against torchao's int8 quantization.
"""
import copy
import io
import logging
import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_tensor


class DynamicLossScaler:
    """Dynamic loss scaling for float16 training, as ``torch.amp.GradScaler`` does it.

    Gradients at or below half of float16's smallest subnormal (2^-25, about 3e-8) round to zero. Multiplying
    the loss by a large ``scale`` S multiplies every gradient by S (the chain rule), lifting them
    into range; :meth:`step` divides them by S again before the update. If any scaled gradient
    overflowed (inf or nan), the step is skipped and S is multiplied by ``backoff`` (0.5); after
    ``growth_interval`` good steps in a row, S is multiplied by ``growth`` (2), so S stays near
    the largest value that does not overflow.
    """

    def __init__(self, scale: float = 2.0 ** 16, growth: float = 2.0, backoff: float = 0.5,
                 growth_interval: int = 2000):
        if scale <= 0 or growth <= 1 or not 0 < backoff < 1 or growth_interval < 1:
            raise ValueError("expected scale > 0, growth > 1, 0 < backoff < 1 and growth_interval >= 1, got "
                             f"{scale}, {growth}, {backoff}, {growth_interval}")
        self.scale, self.growth, self.backoff, self.growth_interval = scale, growth, backoff, growth_interval
        self.good_steps = 0

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """S * loss: call ``backward`` on this instead of on the loss."""
        return loss * self.scale

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale the gradients and step, or skip the step if any is inf or nan; then update S.

        Returns whether the optimizer stepped.
        """
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        finite = all(torch.isfinite(g).all() for g in grads)
        if finite:
            for g in grads:
                g.div_(self.scale)  # in float32 master gradients, where the small values survive
            optimizer.step()
            self.good_steps += 1
            if self.good_steps == self.growth_interval:
                self.scale, self.good_steps = self.scale * self.growth, 0
        else:
            self.scale, self.good_steps = self.scale * self.backoff, 0
        return finite


def soft_targets_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 KL(p_T || q_T), averaged over the batch, with p_T = softmax(teacher / T), q_T = softmax(student / T).

    Shapes: (N, C) and (N, C) -> scalar. The factor T^2 keeps the gradient's size independent
    of T, since the soft targets' gradient scales as 1 / T^2 (Hinton et al. 2015).
    """
    check_tensor(student_logits, "student_logits", shape=("N", "C"), dtype="floating")
    check_tensor(teacher_logits, "teacher_logits", shape=tuple(student_logits.shape), dtype="floating")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    log_q = F.log_softmax(student_logits / temperature, dim=1)
    log_p = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()
    return temperature ** 2 * kl


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      temperature: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """Knowledge distillation: alpha T^2 KL(p_T || q_T) + (1 - alpha) CE(student, targets).

    The student learns from the teacher's softened probabilities (which also say *how wrong*
    each other class is) and from the true labels. Shapes: logits (N, C), targets (N,) int64.
    The teacher's logits are detached: the teacher is not trained.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    check_tensor(targets, "targets", shape=(student_logits.shape[0],), dtype=torch.int64)
    soft = soft_targets_kl(student_logits, teacher_logits.detach(), temperature)
    return alpha * soft + (1 - alpha) * F.cross_entropy(student_logits, targets)


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """A 0/1 mask of ``weight``'s shape that zeroes the round(sparsity * n) entries smallest in |w|.

    The mask of ``torch.nn.utils.prune.l1_unstructured`` (Han et al. 2015): small weights
    contribute least to the output, so they are removed first. Ties are broken arbitrarily.
    """
    check_tensor(weight, "weight", dtype="floating")
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparsity must lie in [0, 1], got {sparsity}")
    mask = torch.ones_like(weight)
    k = round(sparsity * weight.numel())
    if k:
        smallest = weight.abs().flatten().topk(k, largest=False).indices
        mask.view(-1)[smallest] = 0
    return mask


def sparsity(model: nn.Module) -> float:
    """The fraction of the weights of ``model``'s layers that are exactly zero (biases not counted)."""
    weights = [m.weight for m in model.modules() if isinstance(getattr(m, "weight", None), torch.Tensor)]
    zeros = sum((w == 0).sum().item() for w in weights)
    return zeros / sum(w.numel() for w in weights)


def size_bytes(model: nn.Module) -> int:
    """The size of ``model``'s saved ``state_dict`` in bytes: what storing or shipping it costs."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@torch.no_grad()
def latencies(models: dict[str, nn.Module], x: torch.Tensor, rounds: int = 30, seed: int = 0) -> dict[str, float]:
    """The shortest CPU time in seconds of one forward pass of each model on ``x``, timed by turns.

    CPU time, not wall-clock time: the time this process spends waiting while other programs
    use the processor does not count (on a GPU, time with CUDA events instead). Every round takes the models in a new random order (from ``seed``), so that a burst of load
    on the machine, or whichever model ran just before, slows each of them alike over the
    rounds. Each timed call follows an untimed one of the same model, which sets up its kernels
    and brings its weights and buffers into the caches. The minimum over ``rounds`` is the run
    least disturbed by anything else; it is still this machine's answer only.
    """
    if not models or rounds < 1:
        raise ValueError(f"expected at least one model and rounds >= 1, got {len(models)} models, {rounds} rounds")
    generator = torch.Generator().manual_seed(seed)
    names = list(models)
    best = dict.fromkeys(names, float("inf"))
    for _ in range(rounds):
        for i in torch.randperm(len(names), generator=generator).tolist():
            model = models[names[i]]
            model(x)
            start = time.process_time()
            model(x)
            best[names[i]] = min(best[names[i]], time.process_time() - start)
    return best


def quantize_int8(x: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 quantization along ``dim``: x ~ q * scale, q = round(x / scale) in [-128, 127].

    One scale per slice along ``dim`` (per output channel of a weight, per row of a batch):
    scale = max |x| / 127.5 over the other dimensions, spreading [-max, max] over int8's 255
    steps: torchao's convention, followed here to match it (the textbook symmetric scale is
    max |x| / 127, which maps +-max exactly to +-127). Returns q (int8, x's shape) and scale
    (float, size 1 along the other dimensions).
    """
    check_tensor(x, "x", dtype="floating")
    other = [d for d in range(x.dim()) if d != dim % x.dim()]
    eps = torch.finfo(torch.float32).eps  # an all-zero slice would otherwise divide by zero
    scale = (x.abs().amax(dim=other, keepdim=True) / 127.5).clamp_min(eps)
    return torch.round(x * (1 / scale)).clamp(-128, 127).to(torch.int8), scale  # x * (1/scale), as torchao


class Int8Linear(nn.Module):
    """A linear layer with int8 weights and dynamically quantized int8 activations.

    y = (q_x q_W^T) s_x s_W^T + b, where W ~ q_W s_W is quantized once, per output channel,
    and each row of the input x ~ q_x s_x is quantized on the fly. The product q_x q_W^T is
    computed in integers (int32 accumulators, as int8 hardware does); only the result is
    rescaled to float. Integer-arithmetic inference as in Jacob et al. (2018), in the simpler
    symmetric form with activation scales computed on the fly that torchao uses (they used
    asymmetric uint8 with zero points and activation ranges fixed in advance). Shapes:
    x (N, in_features) -> (N, out_features). The weight takes a quarter of float32's memory.
    """

    def __init__(self, linear: nn.Module):
        super().__init__()
        weight = linear.weight.detach()
        q_weight, weight_scale = quantize_int8(weight, dim=0)
        self.register_buffer("q_weight", q_weight)         # (out, in) int8
        self.register_buffer("weight_scale", weight_scale)  # (out, 1)
        bias = linear.bias
        self.register_buffer("bias", None if bias is None else bias.detach().clone())
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", shape=("N", self.in_features), dtype="floating")
        q_x, x_scale = quantize_int8(x, dim=0)              # one scale per row: (N, 1)
        accumulated = q_x.to(torch.int32) @ self.q_weight.to(torch.int32).T  # exact integer sums
        y = accumulated.to(x.dtype) * x_scale * self.weight_scale.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def import_torchao():
    """Import torchao, the PyTorch team's quantization library, without its start-up noise.

    Its wheel carries GPU kernels that a CPU-only torch cannot load and logs one line for each,
    plus a deprecation notice from torch; nothing the CPU code paths use is missing.
    """
    loggers = [logging.getLogger(name) for name in ("torchao", "torch.utils._pytree")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        import torchao
        import torchao.quantization
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    return torchao


def replace_layers(model: nn.Module, make) -> nn.Module:
    """A copy of ``model`` in which every leaf layer (a module without children) is replaced by
    ``make(layer)``; ``make`` returns the layer itself to keep it. ``model`` is left unchanged."""
    model = copy.deepcopy(model)
    if not list(model.children()):
        return make(model)

    def walk(module: nn.Module) -> None:
        for name, child in module.named_children():
            if list(child.children()):
                walk(child)
            else:
                setattr(module, name, make(child))

    walk(model)
    return model


def replace_linears(model: nn.Module, make) -> nn.Module:
    """A copy of ``model`` with every linear layer (a leaf with a 2-D ``weight``, ours or torch's)
    replaced by ``make(layer)``, e.g. ``replace_linears(model, Int8Linear)``."""
    def is_linear(layer: nn.Module) -> bool:
        weight = getattr(layer, "weight", None)
        return isinstance(weight, torch.Tensor) and weight.dim() == 2

    return replace_layers(model, lambda layer: make(layer) if is_linear(layer) else layer)


def as_torch_modules(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with the course's layers swapped for ``torch.nn``'s, same weights.

    Tools such as torchao, autocast and ``torch.compile`` are written for (and tuned to)
    PyTorch's own layers; our from-scratch layers compute the same functions.
    """
    from .activations import ReLU
    from .conv import Conv2d, Flatten, MaxPool2d
    from .layers import Linear

    def convert(layer: nn.Module) -> nn.Module:
        if isinstance(layer, Conv2d):
            new = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                            layer.padding, bias=layer.bias is not None)
        elif isinstance(layer, Linear):
            new = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        elif isinstance(layer, ReLU):
            return nn.ReLU()
        elif isinstance(layer, MaxPool2d):
            return nn.MaxPool2d(layer.kernel_size, layer.stride, layer.padding)
        elif isinstance(layer, Flatten):
            return nn.Flatten()
        else:
            return layer
        new.load_state_dict(layer.state_dict())
        return new.to(layer.weight.device)

    return replace_layers(model, convert)


def train_lm_steps(model: nn.Module, train: torch.Tensor, steps: int, batch_size: int, seq_len: int,
                   lr: float, generator: torch.Generator, warmup_steps: int = 20, desc: str = "training") -> list[float]:
    """Train a language model for a fixed number of steps; return the training loss (nats) of each.

    A step budget, not a time budget, so the result does not depend on the machine's speed:
    every model sees ``steps * batch_size * seq_len`` tokens. AdamW at peak ``lr``, warm-up then cosine decay
    (:func:`utils.lm.cosine_lr`), gradients clipped to norm 1, batches from ``generator``.
    """
    from .lm import cosine_lr, sequence_loss
    from .text import random_windows

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    losses = []
    for step in tqdm(range(steps), desc=desc, leave=False):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(lr, step / steps, step, warmup_steps)
        window = random_windows(train, batch_size, seq_len, generator)
        logits, _ = model(window[:, :-1])
        loss = sequence_loss(logits, window[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def fit_power_law(n: torch.Tensor, loss: torch.Tensor) -> tuple[float, float]:
    """Fit loss = a * n^(-alpha) by least squares on log loss = log a - alpha log n; return (a, alpha)."""
    check_tensor(n, "n", shape=(None,))
    check_tensor(loss, "loss", shape=(len(n),))
    if len(n) < 2 or (n <= 0).any() or (loss <= 0).any():
        raise ValueError("expected at least two points with positive n and loss")
    log_n, log_loss = n.double().log(), loss.double().log()
    design = torch.stack([torch.ones_like(log_n), log_n], dim=1)
    log_a, slope = torch.linalg.lstsq(design, log_loss[:, None]).solution[:, 0]
    return math.exp(log_a.item()), -slope.item()
