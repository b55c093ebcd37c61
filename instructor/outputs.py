"""Make a graded notebook's outputs safe to store and to show: capped, and without active HTML.

Student code decides what its cells print. Before an executed notebook is stored in
``autograded/`` (which formgrader shows the instructor) or turned into feedback, every output
is capped in lines and bytes (``c.OutputLimits.*``), and HTML that could run (scripts, event
handlers such as ``onerror=``, JavaScript and SVG outputs) is escaped or dropped, in outputs
and in the student's markdown cells alike. Markdown a student wrote (written answers, Markdown
outputs) that would render a ``javascript:``, ``vbscript:`` or ``data:`` address, however it is
spelled (entities, escapes, reference links), is shown as text instead (:func:`neutralise_links`).
"""
import html
import re
from html.parser import HTMLParser

from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.utils import is_locked
from traitlets import Int
from traitlets.config import Configurable

SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
URL_ATTRIBUTES = {"href", "src", "srcset", "xlink:href", "action", "formaction", "poster", "background", "cite",
                  "data", "codebase", "lowsrc", "dynsrc", "ping"}
SHOWN_AS_TEXT = ("*[This answer holds a link or image with a `javascript:`, `vbscript:` or `data:` address; "
                 "the grader shows it as text.]*")


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
    JavaScript and SVG outputs; show as text the student's markdown that would link to a script
    address. (Locked markdown is the instructor's, taken from the gradebook.)"""
    sanitizer = SanitizeHTML()
    for index, cell in enumerate(nb.cells):
        if not (cell.cell_type == "markdown" and is_locked(cell)):
            sanitizer.preprocess_cell(cell, {}, index)
            if cell.cell_type == "markdown":
                cell.source = neutralise_links(cell.source)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if data is None:
                continue
            if isinstance(data.get("text/markdown"), str):
                data["text/markdown"] = neutralise_links(data["text/markdown"])
            if isinstance(data.get("text/latex"), str) and _names_a_script_scheme(data["text/latex"]):
                del data["text/latex"]  # MathJax's \href
            if not data:
                data["text/plain"] = "[output removed: it could run code in the browser]"


def neutralise_links(markdown: str) -> str:
    """``markdown`` itself when it renders no ``javascript:``, ``vbscript:`` or ``data:`` address;
    otherwise the same text in a fenced code block (where nothing is a link), after a note.

    Whether it does is decided on what nbconvert's Markdown renderer (the one of feedback and of
    formgrader) makes of it, so entities (``java&#115;cript:``), backslash escapes and reference
    links are caught; ``javascript:`` or ``vbscript:`` anywhere in the text, however spaced or
    escaped, counts too (other renderers, MathJax's ``\\href``)."""
    if _shown_as_text(markdown) or not (_names_a_script_scheme(markdown) or _renders_script_url(markdown)):
        return markdown
    fence = "`" * max(3, 1 + max(map(len, re.findall(r"`+", markdown)), default=0))
    return f"{SHOWN_AS_TEXT}\n\n{fence}text\n{markdown}\n{fence}\n"


def _shown_as_text(markdown: str) -> bool:
    """Whether ``markdown`` is already what :func:`neutralise_links` makes (a second pass, for feedback)."""
    shown = re.fullmatch(re.escape(SHOWN_AS_TEXT) + r"\n\n(`{3,})text\n(.*)\n\1\n", markdown, re.S)
    return bool(shown) and not re.search(f"`{{{len(shown[1])},}}", shown[2])


def _names_a_script_scheme(text: str) -> bool:
    flat = re.sub(r"[\x00-\x20\x7f\\]+", "", html.unescape(text)).lower()
    return "javascript:" in flat or "vbscript:" in flat


def _renders_script_url(markdown: str) -> bool:
    finder = _ScriptUrlFinder()
    finder.feed(markdown2html_mistune(markdown))
    finder.close()
    return finder.found


class _ScriptUrlFinder(HTMLParser):
    """Whether any URL attribute of the parsed HTML holds a script scheme (as a browser reads it:
    entities decoded, control characters and spaces ignored, any case)."""

    found = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            address = re.sub(r"[\x00-\x20\x7f]+", "", value or "").lower()
            if name in URL_ATTRIBUTES and address.startswith(SCRIPT_SCHEMES):
                self.found = True
