"""The plotting helpers draw what they are given (checked on the figure's own artists)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.metrics import confusion_matrix  # noqa: E402
from utils.plots import plot_confusion_matrix  # noqa: E402


def test_confusion_matrix_plot_shows_every_nonzero_count_in_its_cell():
    y_true = torch.tensor([0, 0, 1, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 2, 2, 0])
    cm = confusion_matrix(y_true, y_pred, 3)
    ax = plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    assert torch.equal(torch.as_tensor(ax.images[0].get_array().data), cm)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    expected = {(i, j): str(cm[i, j].item()) for i in range(3) for j in range(3) if cm[i, j]}
    assert cells == expected  # (row = true, column = predicted) -> count; zeros left blank
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    plt.close("all")


@pytest.mark.parametrize("cm, names, message", [
    (torch.zeros(2, 3), None, "square"),
    (torch.zeros(3, 3), ["a", "b"], "expected 3 names"),
])
def test_confusion_matrix_plot_rejects_bad_input(cm, names, message):
    with pytest.raises(ValueError, match=message):
        plot_confusion_matrix(cm, class_names=names)
