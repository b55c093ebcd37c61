"""Make a graded notebook's outputs safe to store and to show: capped, and without active HTML.

Student code decides what its cells print. Before an executed notebook is stored in
``autograded/`` (which formgrader shows the instructor) or turned into feedback, every output
is capped in lines and bytes (``c.OutputLimits.*``), and HTML that could run (scripts, event
handlers such as ``onerror=``, JavaScript and SVG outputs) is escaped or dropped, in outputs
and in the student's markdown cells alike.
"""
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.utils import is_locked
from traitlets import Int
from traitlets.config import Configurable


class OutputLimits(Configurable):
    """How much of each output a graded notebook keeps (``c.OutputLimits.*``)."""

    max_lines = Int(100, help="lines kept of each output").tag(config=True)
    max_bytes = Int(10_000, help="characters kept of each output").tag(config=True)


def cap_text(text: str, limits: OutputLimits) -> str:
    lines = text.splitlines(keepends=True)
    capped = "".join(lines[:limits.max_lines])[:limits.max_bytes]
    if capped != text:
        capped += f"\n[... {len(text) - len(capped)} more characters not shown ...]\n"
    return capped


def cap_outputs(nb, limits: OutputLimits) -> None:
    """Cap every output of every code cell in place."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                output.text = cap_text(output.text, limits)
            elif output.output_type == "error":
                output.evalue = cap_text(output.evalue, limits)
                output.traceback = [cap_text(line, limits) for line in output.traceback[-limits.max_lines:]]
            else:
                for mime, value in list(output.get("data", {}).items()):
                    text = value if isinstance(value, str) else str(value)
                    if len(text) > limits.max_bytes * 20:  # an image this large is not feedback
                        del output.data[mime]
                    elif mime.startswith("text/"):
                        output.data[mime] = cap_text(text, limits)


def strip_active_html(nb) -> None:
    """Escape scripts and event handlers in the student's markdown and in HTML outputs; drop
    JavaScript and SVG outputs. (Locked markdown is the instructor's, restored from the gradebook.)"""
    sanitizer = SanitizeHTML()
    for index, cell in enumerate(nb.cells):
        if not (cell.cell_type == "markdown" and is_locked(cell)):
            sanitizer.preprocess_cell(cell, {}, index)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "data" in output and not output.data:
                output.data["text/plain"] = "[output removed: it could run code in the browser]"
