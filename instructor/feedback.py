"""Feedback that shows students their results, never the hidden tests.

:class:`SafeFeedback` is registered in ``nbgrader_config.py`` as a preprocessor of nbgrader's
``generate_feedback`` (so formgrader's *Generate feedback* button uses it too). On each
autograded notebook it

- replaces every hidden-test block by one line saying hidden checks ran (the release's
  version of the cell, as students already have it);
- reduces a test cell's outputs to the failure itself, ``AssertionError: <what failed>``,
  without the traceback (a traceback quotes the failing hidden line);
- removes from every output any line of a hidden test that a submission printed;
- caps each output and strips active HTML (:mod:`instructor.outputs`).
"""
import html
import re

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .kernel import is_test_cell
from .outputs import OutputLimits, cap_outputs, strip_active_html

HIDDEN_BLOCK = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
REDACTED = "[hidden test]"


def hidden_lines(nb) -> list[str]:
    """Lines that only hidden tests contain. A line whose text the rest of the notebook shows
    (a message that a visible test prints too, inside a longer line) is no secret."""
    visible = "\n".join(HIDDEN_BLOCK.sub("", cell.source) for cell in nb.cells)
    hidden = {line.strip() for cell in nb.cells if is_test_cell(cell)
              for block in HIDDEN_BLOCK.findall(cell.source) for line in block.splitlines()[1:-1]}
    return sorted((line for line in hidden if len(line) >= 8 and line not in visible), key=len, reverse=True)


def leaked_lines(html_text: str, secret: list[str]) -> list[str]:
    """The lines of ``secret`` that an HTML page shows (as text, whatever the markup around it)."""
    shown = html.unescape(re.sub(r"<[^>]+>", "", html_text))
    return [line for line in secret if line in shown]


def redact(text: str, lines: list[str]) -> str:
    for line in lines:
        text = text.replace(line, REDACTED)
    return text


class SafeFeedback(NbGraderPreprocessor):
    """Remove hidden tests, tracebacks of tests and active HTML from a feedback notebook."""

    hidden_note = Unicode("# Hidden tests ran here; they are not shown.\n").tag(config=True)

    def preprocess(self, nb, resources):
        secret = hidden_lines(nb)
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source = HIDDEN_BLOCK.sub(self.hidden_note, cell.source)
                cell.outputs = [_failure_only(o) for o in cell.outputs if o.output_type == "error"]
            for output in cell.get("outputs", []):
                _redact_output(output, secret)
        cap_outputs(nb, OutputLimits(parent=self))
        strip_active_html(nb)
        return nb, resources


def _failure_only(error) -> NotebookNode:
    return NotebookNode(output_type="error", ename=error.ename, evalue=error.evalue,
                        traceback=[f"{error.ename}: {error.evalue}"])


def _redact_output(output, secret: list[str]) -> None:
    if output.output_type == "stream":
        output.text = redact(output.text, secret)
    elif output.output_type == "error":
        output.evalue = redact(output.evalue, secret)
        output.traceback = [redact(line, secret) for line in output.traceback]
    else:
        for mime, value in output.get("data", {}).items():
            if isinstance(value, str):
                output.data[mime] = redact(value, secret)
