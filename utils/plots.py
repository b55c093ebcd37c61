"""Plotting helpers: results people would rather see than read."""
import matplotlib.pyplot as plt
import torch

from .train import History


def plot_history(history: History, title: str = "", ax=None):
    """Loss per epoch (training and, if recorded, validation); the metric on a second axis."""
    ax = ax or plt.subplots(figsize=(6, 3.5))[1]
    epochs = range(1, len(history.train_loss) + 1)
    ax.plot(epochs, history.train_loss, label="training loss")
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="validation loss")
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    handles, labels = ax.get_legend_handles_labels()
    if history.val_metric:
        ax2 = ax.twinx()
        ax2.plot(epochs, history.val_metric, color="tab:green", linestyle="--",
                 label=f"validation {history.metric_name or 'metric'}")
        ax2.set_ylabel(history.metric_name or "metric")
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, loc="center right")
    return ax


def plot_predictions(y_true: torch.Tensor, y_pred: torch.Tensor, title: str = "", ax=None):
    """Predicted against true values; points on the dashed diagonal are perfect predictions."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    t = y_true.detach().cpu().flatten()
    p = y_pred.detach().cpu().flatten()
    ax.scatter(t, p, s=12, alpha=0.6)
    lo, hi = min(t.min(), p.min()).item(), max(t.max(), p.max()).item()
    ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
    ax.set(xlabel="true value", ylabel="prediction", title=title)
    ax.set_aspect("equal")
    return ax


def show_images(images: torch.Tensor, labels=None, predictions=None, ncols: int = 10, size: float = 1.0):
    """A grid of grey-scale images (N, H, W), titled with labels (and predictions: red if wrong)."""
    images = images.detach().cpu()
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r")
        if labels is not None:
            label = int(labels[i])
            if predictions is None:
                ax.set_title(str(label), fontsize=9)
            else:
                guess = int(predictions[i])
                ax.set_title(f"{guess} ({label})" if guess != label else str(guess), fontsize=9,
                             color="black" if guess == label else "red")
    fig.tight_layout()
    return fig


def plot_curves(x: torch.Tensor, curves: dict, title: str = "", ax=None, **axis_labels):
    """Several y(x) curves on one axis, e.g. the activation functions and their derivatives."""
    ax = ax or plt.subplots(figsize=(5, 3.5))[1]
    for name, y in curves.items():
        ax.plot(x.detach().cpu(), y.detach().cpu(), label=name)
    ax.axhline(0, color="gray", linewidth=0.5)
    ax.axvline(0, color="gray", linewidth=0.5)
    ax.set(title=title, **axis_labels)
    ax.legend()
    return ax


def plot_confusion_matrix(cm: torch.Tensor, class_names=None, title: str = "", ax=None):
    """A confusion matrix (C, C) of counts as a grid: rows the true class, columns the predicted.

    Each cell shows its count; the diagonal holds the correct predictions, so a perfect
    classifier leaves every other cell empty. Matches :func:`utils.metrics.confusion_matrix`
    (and scikit-learn's) convention. ``class_names`` labels the C rows and columns.
    """
    cm = torch.as_tensor(cm).detach().cpu()
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm: expected a square (C, C) matrix, got shape {tuple(cm.shape)}")
    n = cm.shape[0]
    names = [str(c) for c in (range(n) if class_names is None else class_names)]
    if len(names) != n:
        raise ValueError(f"class_names: expected {n} names, got {len(names)}")
    ax = ax or plt.subplots(figsize=(0.45 * n + 2, 0.45 * n + 1.5))[1]
    ax.imshow(cm.numpy(), cmap="Blues")
    threshold = cm.max().item() / 2
    for i in range(n):
        for j in range(n):
            count = cm[i, j].item()
            if count:
                ax.text(j, i, f"{count:g}", ha="center", va="center", fontsize=8,
                        color="white" if count > threshold else "black")
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return ax
