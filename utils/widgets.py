"""Interactive explorers for JupyterLab (ipywidgets). The book shows a static figure beside each."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_sample_image

from . import activations
from .conv import sliding_windows
from .optim import SGD, Adam, trajectory


def plot_neuron(activation: str = "sigmoid", w: float = 1.0, b: float = 0.0, ax=None):
    """One neuron a = f(w x + b) and its derivative da/dx = w f'(w x + b) over x in [-6, 6]."""
    f = getattr(activations, activation)
    f_grad = getattr(activations, f"{activation}_grad")
    x = torch.linspace(-6, 6, 401)
    z = w * x + b
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    ax.plot(x, f(z), label=f"a = {activation}({w:g} x + {b:g})")
    ax.plot(x, w * f_grad(z), linestyle="--", label="da/dx")
    ax.axhline(0, color="gray", linewidth=0.5)
    ax.set(xlabel="x", ylim=(-1.5, max(1.5, 1.1 * abs(w))), title=f"a {activation} neuron")
    ax.legend(loc="upper left")
    return ax


def activation_explorer() -> widgets.Widget:
    """Pick an activation, drag the weight and bias, and watch the neuron's response change."""
    def draw(activation, w, b):
        plot_neuron(activation, w, b)
        plt.show()

    return widgets.interactive(
        draw,
        activation=widgets.Dropdown(options=["sigmoid", "tanh", "relu"], value="sigmoid"),
        w=widgets.FloatSlider(value=1.0, min=-4, max=4, step=0.1, description="weight w"),
        b=widgets.FloatSlider(value=0.0, min=-4, max=4, step=0.1, description="bias b"),
    )


def bowl(p: torch.Tensor) -> torch.Tensor:
    """f(x, y) = (x^2 + 10 y^2) / 2: a valley ten times as steep across (y) as along it (x).

    ``p`` holds x and y in its first dimension, shape (2,) or (2, H, W) for a grid.
    """
    return 0.5 * (p[0] ** 2 + 10 * p[1] ** 2)


OPTIMIZERS = {"SGD": (SGD, {}), "momentum": (SGD, {"momentum": 0.9}), "Adam": (Adam, {})}


def plot_paths(f, paths: dict, xlim, ylim, ax=None, title: str = ""):
    """Contours of f (log-spaced levels) over the box xlim x ylim, with each path on top.

    ``f`` takes a (2, ...) tensor (see :func:`bowl`); ``paths`` maps names to (T, 2) tensors
    such as :func:`utils.optim.trajectory` returns.
    """
    ax = ax or plt.subplots(figsize=(5, 4))[1]
    xs, ys = torch.linspace(*xlim, 200), torch.linspace(*ylim, 200)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))
    z = f(grid)
    levels = torch.logspace(-2, z.max().log10().item(), 20)
    ax.contour(grid[0], grid[1], z, levels=levels, colors="lightgray", linewidths=0.8)
    for name, path in paths.items():  # about 30 dots per path: their spacing shows the speed
        ax.plot(path[:, 0], path[:, 1], "o-", markersize=3, markevery=max(1, len(path) // 30),
                linewidth=1.2, label=name)
    ax.set(xlim=xlim, ylim=ylim, xlabel="x", ylabel="y", title=title)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_lr_paths(optimizer: str = "SGD", lr: float = 0.1, steps: int = 50, ax=None):
    """``steps`` steps of an optimizer from :data:`OPTIMIZERS` on :func:`bowl`, from (-9, 2.5)."""
    optimizer_class, hyperparameters = OPTIMIZERS[optimizer]
    path = trajectory(bowl, (-9.0, 2.5), optimizer_class, steps, lr=lr, **hyperparameters)
    final = bowl(path[-1]).item()
    return plot_paths(bowl, {f"{optimizer}, lr={lr:.3g}": path}, (-10, 10), (-4, 4), ax=ax,
                      title=f"f = {final:.3g} after {steps} steps")


def lr_explorer() -> widgets.Widget:
    """Pick an optimizer, drag the learning rate (log scale), watch its path on the bowl."""
    def draw(optimizer, lr, steps):
        plot_lr_paths(optimizer, lr, steps)
        plt.show()

    return widgets.interactive(
        draw,
        optimizer=widgets.Dropdown(options=list(OPTIMIZERS), value="SGD"),
        lr=widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.05, description="lr"),
        steps=widgets.IntSlider(value=50, min=5, max=300, step=5, description="steps"),
    )


KERNELS = {  # classic 3x3 image filters; a CNN learns kernels like these from data
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "vertical edges (Sobel)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "outline (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}


def sample_photo(step: int = 2) -> torch.Tensor:
    """A grey-scale photo that ships with scikit-learn (a temple in China), every ``step``-th pixel.

    Shape (427 / step, 640 / step), values in [0, 1].
    """
    rgb = torch.tensor(load_sample_image("china.jpg"), dtype=torch.float32) / 255
    return rgb.mean(dim=2)[::step, ::step]


def apply_kernel(image: torch.Tensor, kernel) -> torch.Tensor:
    """Cross-correlate one grey image (H, W) with one 3x3 kernel, zero-padded: (H, W) -> (H, W).

    Y[i, j] = sum_{m, n} K[m, n] X[i + m - 1, j + n - 1]: the conv layer's formula for one channel.
    """
    kernel = torch.as_tensor(kernel, dtype=image.dtype)
    windows = sliding_windows(image[None, None], 3, padding=1)  # (1, 1, H, W, 3, 3)
    return (windows * kernel).sum(dim=(-2, -1))[0, 0]


def plot_kernel(image: torch.Tensor, kernel, title: str = "", axes=None):
    """The kernel's weights (red: positive, blue: negative) and the image it produces.

    A kernel whose weights sum to about 1 (blur, sharpen) keeps the brightness: shown on the
    photo's own 0..1 scale. One that sums to 0 (edges) responds to changes: mid-grey is 0.
    """
    kernel = torch.as_tensor(kernel, dtype=image.dtype)
    response = apply_kernel(image, kernel)
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(8, 3.2),
                                                      gridspec_kw={"width_ratios": [1, 3]})[1]
    limit = kernel.abs().max().item() or 1.0
    axes[0].imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (m, n), w in zip(torch.cartesian_prod(torch.arange(3), torch.arange(3)).tolist(), kernel.flatten()):
        axes[0].text(n, m, f"{w.item():.2g}", ha="center", va="center", fontsize=9,
                     color="white" if abs(w) > limit / 2 else "black")
    axes[0].set_title("kernel", fontsize=10)
    if kernel.sum() > 0.5:
        axes[1].imshow(response.clamp(0, 1), cmap="gray", vmin=0, vmax=1)
    else:
        spread = response.abs().quantile(0.99).item() or 1.0  # a few outliers would wash it out
        axes[1].imshow(response, cmap="gray", vmin=-spread, vmax=spread)
    axes[1].set_title(title, fontsize=10)
    for ax in axes:
        ax.axis("off")
    return axes


def kernel_explorer(image: torch.Tensor | None = None) -> widgets.Widget:
    """Pick a classic 3x3 kernel, or type your own nine weights, and see what it does to a photo."""
    image = sample_photo() if image is None else image
    cells = [widgets.FloatText(layout=widgets.Layout(width="70px")) for _ in range(9)]
    preset = widgets.Dropdown(options=list(KERNELS), value="vertical edges (Sobel)", description="kernel")
    output = widgets.Output()
    loading = False  # while a preset fills the nine cells, draw once at the end, not nine times

    def preset_weights():
        return [round(w, 4) for w in torch.tensor(KERNELS[preset.value]).flatten().tolist()]

    def draw(change=None):
        if loading:
            return
        weights = [c.value for c in cells]
        with output:
            output.clear_output(wait=True)
            plot_kernel(image, torch.tensor(weights).view(3, 3),
                        title=preset.value if weights == preset_weights() else "your kernel")
            plt.show()

    def load_preset(change=None):
        nonlocal loading
        loading = True
        for cell, w in zip(cells, preset_weights()):
            cell.value = w
        loading = False
        draw()

    preset.observe(load_preset, names="value")
    for cell in cells:
        cell.observe(draw, names="value")
    load_preset()
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"))
    return widgets.VBox([preset, grid, output])


def _char_label(char: str) -> str:
    """How a character reads on an axis: newline as \\n, space as ' ', the rest as themselves."""
    return {"\n": "\\n", " ": "' '", "\t": "\\t"}.get(char, char)


def plot_temperatures(logits: torch.Tensor, chars, temperatures=(0.5, 1.0, 1.5), top: int = 12, axes=None):
    """The next-character distribution softmax(logits / temperature) at several temperatures, as bars.

    ``logits`` (V,) are a model's scores for the next character and ``chars`` its vocabulary
    (V names). Each panel shows the ``top`` characters most likely at temperature 1, in the
    same order, so the panels compare directly; the title says how much probability the
    other characters share.
    """
    logits = logits.detach().double().cpu()
    order = torch.softmax(logits, dim=0).argsort(descending=True)[:top]
    labels = [_char_label(chars[i]) for i in order.tolist()]
    axes = axes if axes is not None else plt.subplots(1, len(temperatures), figsize=(4 * len(temperatures), 3),
                                                      sharey=True)[1]
    axes = [axes] if not hasattr(axes, "__len__") else list(axes)
    for ax, temperature in zip(axes, temperatures):
        probs = torch.softmax(logits / temperature, dim=0)
        ax.bar(range(len(order)), probs[order].tolist(), color="tab:blue")
        ax.set_xticks(range(len(order)), labels, fontsize=9)
        ax.set(title=f"temperature {temperature:g} (the rest: {1 - probs[order].sum().item():.0%})", ylim=(0, 1))
    axes[0].set_ylabel("probability of the next character")
    return axes


def temperature_explorer(model, vocab, prompt: str = "    def ", length: int = 200, seed: int = 0) -> widgets.Widget:
    """Type a prompt and drag the temperature: the next-character bars and a sampled continuation.

    ``model`` is a trained :class:`utils.rnn.CharRNN` and ``vocab`` its
    :class:`utils.text.Vocabulary`. The continuation is drawn with a generator seeded with
    ``seed``, so the same prompt and temperature always give the same text.
    """
    from .rnn import generate  # here, not at the top: the other explorers do not need it

    device = next(model.parameters()).device

    def draw(prompt, temperature):
        if not prompt:
            print("type a prompt of at least one character")
            return
        ids = vocab.encode(prompt)
        with torch.no_grad():
            logits, _ = model(ids.to(device).unsqueeze(0))
        plot_temperatures(logits[0, -1], vocab.chars, temperatures=(temperature,), top=15,
                          axes=plt.subplots(figsize=(7, 3))[1])
        plt.show()
        sample = generate(model, ids, length, temperature, torch.Generator().manual_seed(seed))
        print(prompt + vocab.decode(sample))

    return widgets.interactive(
        draw,
        prompt=widgets.Text(value=prompt, description="prompt", continuous_update=False),
        temperature=widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=0.5, step=0.02,
                                           description="temperature", continuous_update=False),
    )


def plot_threshold(y_true: torch.Tensor, scores: torch.Tensor, threshold: float = 0.5, axes=None):
    """A binary classifier's scores per class with the decision threshold, and the PR curve.

    ``y_true`` (N,) of 0/1 and ``scores`` (N,) in [0, 1] (e.g. sigmoid outputs): predicting
    "positive" when score >= ``threshold`` gives the counts, precision, recall and F1 shown.
    """
    from .metrics import confusion_matrix, precision_recall_curve, precision_recall_f1

    y_true, scores = y_true.detach().cpu(), scores.detach().cpu().double()
    cm = confusion_matrix(y_true, (scores >= threshold).long(), 2)
    precision, recall, f1 = (s[1].item() for s in precision_recall_f1(cm))
    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(11, 3.6))[1]
    bins = torch.linspace(0, 1, 41)
    axes[0].hist(scores[y_true == 0], bins=bins, alpha=0.6, label="negatives", log=True)
    axes[0].hist(scores[y_true == 1], bins=bins, alpha=0.6, label="positives", log=True)
    axes[0].axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.2f}")
    (tn, fp), (fn, tp) = cm.tolist()
    axes[0].set(xlabel="score", ylabel="examples (log scale)",
                title=f"TP {tp}, FP {fp}, FN {fn}, TN {tn}")
    axes[0].legend(fontsize=8)
    curve_p, curve_r, _ = precision_recall_curve(y_true, scores)
    axes[1].plot(curve_r, curve_p, label="precision-recall curve")
    axes[1].plot([recall], [precision], "ko", label="this threshold")
    axes[1].set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
                title=f"precision {precision:.2f}, recall {recall:.2f}, F1 {f1:.2f}")
    axes[1].legend(loc="lower left", fontsize=8)
    return axes


def threshold_explorer(y_true: torch.Tensor, scores: torch.Tensor) -> widgets.Widget:
    """Drag the decision threshold and watch the counts, precision, recall and F1 change."""
    def draw(threshold):
        plot_threshold(y_true, scores, threshold)
        plt.tight_layout()
        plt.show()

    return widgets.interactive(
        draw, threshold=widgets.FloatSlider(value=0.5, min=0.01, max=0.99, step=0.01, description="threshold"))


def plot_attention(weights: torch.Tensor, query_labels, key_labels, ax=None, title: str = "", labels: bool = True):
    """A heat map of attention weights (T_q, T_k): row i is where query i looks, and how much.

    ``query_labels`` and ``key_labels`` name the rows and columns (characters are shown as
    in :func:`_char_label`; ``labels=False`` leaves them out, for small panels). Dark is 0,
    bright is 1: each row's weights sum to 1.
    """
    weights = weights.detach().cpu().numpy()
    ax = ax or plt.subplots(figsize=(0.25 * weights.shape[1] + 1.5, 0.25 * weights.shape[0] + 1))[1]
    ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(weights.shape[1]), [_char_label(c) for c in key_labels], fontsize=8)
    ax.set_yticks(range(weights.shape[0]), [_char_label(c) for c in query_labels], fontsize=8)
    ax.tick_params(length=0)
    if not labels:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    return ax


def plot_attention_heads(maps: torch.Tensor, text: str, size: float = 3.2, labels: bool = True):
    """Every head of every block, side by side: ``maps`` (depth, heads, T, T) from
    :func:`utils.gpt.attention_maps` on ``text`` (T characters)."""
    depth, heads = maps.shape[:2]
    fig, axes = plt.subplots(depth, heads, figsize=(size * heads, size * depth), squeeze=False)
    for layer in range(depth):
        for head in range(heads):
            plot_attention(maps[layer, head], text, text, ax=axes[layer, head], title=f"block {layer}, head {head}",
                           labels=labels)
    return fig


def attention_explorer(model, vocab, text: str = "    def __init__(self, name):") -> widgets.Widget:
    """Type a text, pick a block and a head, and see where each character's query looks.

    ``model`` is a trained :class:`utils.gpt.GPT`, ``vocab`` its :class:`utils.text.Vocabulary`;
    texts longer than the model's block size are cut to their last ``block_size`` characters.
    """
    from .gpt import attention_maps  # here, not at the top: the other explorers do not need it

    def draw(text, block, head):
        text = text[-model.block_size:]
        if not text:
            print("type a text of at least one character")
            return
        maps = attention_maps(model, vocab.encode(text))
        plot_attention(maps[block, head], text, text, title=f"block {block}, head {head}: row = query, column = key")
        plt.show()

    return widgets.interactive(
        draw,
        text=widgets.Text(value=text, description="text", continuous_update=False),
        block=widgets.Dropdown(options=list(range(len(model.blocks))), value=0, description="block"),
        head=widgets.Dropdown(options=list(range(model.blocks[0].attn.num_heads)), value=0, description="head"),
    )


def plot_latent_walk(generator, z0: torch.Tensor, z1: torch.Tensor, steps: int = 10, size: float = 1.0):
    """Images G(z) along the straight line from z0 to z1 (both (D,)), left to right.

    ``generator`` maps (N, D) noise to (N, 1, H, W) images.
    """
    from .gan import interpolate_latents
    with torch.no_grad():
        images = generator(interpolate_latents(z0, z1, steps)).cpu()[:, 0].numpy()
    fig, axes = plt.subplots(1, steps, figsize=(steps * size, size * 1.2))
    for t, ax, image in zip(torch.linspace(0, 1, steps).tolist(), axes, images):
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"t={t:.2f}", fontsize=8)
        ax.axis("off")
    return fig


def latent_explorer(generator, z0: torch.Tensor, z1: torch.Tensor) -> widgets.Widget:
    """Slide t from 0 to 1 and watch G((1 - t) z0 + t z1) morph from one sample into another."""
    from .gan import interpolate_latents

    def draw(t):
        with torch.no_grad():
            image = generator(interpolate_latents(z0, z1, 101)[round(t * 100)][None]).cpu()[0, 0].numpy()
        ax = plt.subplots(figsize=(2.5, 2.5))[1]
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"G((1 - t) z0 + t z1), t = {t:.2f}", fontsize=9)
        ax.axis("off")
        plt.show()

    return widgets.interactive(draw, t=widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="t"))
