"""Every number the prose states comes from the page's own run.

A sentence of a chapter's markdown that puts a number with a unit ("0.3 bits per character",
"97%", "3x", "120 s") near a word of comparison ("ahead", "faster", "above", "reaches") is a
claim about a result. It must be backed where a run can check it: a ``{glue:...}`` reference
in the same sentence (myst-nb pastes the value the page computed), or an ``assert`` in the code
cell just before or just after the markdown cell. Otherwise a change of seed, machine or
library makes the prose silently false. A claim that is not a result of the page (a quotation
of the notes, a paper's figure, a setting) can be waived with an HTML comment in its cell,
``<!-- prose-numbers: why -->``, which the reviewer then reads.

Words are claims too. A sentence that ranks or judges a result without a number ("no better
than", "hardly", "near chance", "the smallest", "wins", "faster than") needs the same backing:
glue in the sentence, an assert in a neighbouring code cell, or a waiver for a cell whose words
are not about the page's run (a paper's finding, a definition). The lint cannot tell whether a
neighbouring assert checks *this* claim; the reviewer reads the two side by side.
"""
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "chapters").glob("*.ipynb")) + sorted((REPO / "chapters").glob("*.md"))

UNIT = (r"%|percent|percentage points?|x\b|×|times|fold|s\b|ms|seconds?|minutes?|hours?|"
        r"bits?|bpc|nats?|epochs?|steps?|iterations?|parameters|params|"
        r"[kMGT]i?B|[MB]\b|thousand|million|billion|points?|dB|FLOPs?")
NUMBER_WITH_UNIT = re.compile(rf"(?<![\w.$])[-+−]?\d[\d,]*(?:\.\d+)?\s?(?:{UNIT})", re.I)
# Words that compare a result with something. Words that also set up an experiment ("at most
# 60 epochs", "more than 15 spaces", "over 50 steps") are left out: they made most false alarms.
COMPARISON = re.compile(
    r"\b(?:ahead|behind|beats?|outperforms?|exceeds?|faster|slower|quicker|better|worse|higher|"
    r"lower|above|below|improves?|improved|reaches|reached|drops?|dropped|rises|rose|gains?|"
    r"gained|wins?|won|leads?|led|twice as|half as)\b", re.I)
# Words that rank or judge a result with no number: each one has stated something a run can
# contradict ("the gated nets are no better than the vanilla RNN", "it stays near chance").
QUALITATIVE = re.compile(
    r"\b(?:no (?:better|worse|faster|slower) than|hardly|barely|(?:near|at|above|close to) chance|"
    r"(?:is|are|was|were|ends|ended|comes out) (?:the )?(?:smallest|largest|fastest|slowest|best|worst|"
    r"most accurate|least accurate)\b|"
    r"almost (?:never|always)|little or nothing|(?:beats?|outperforms?|loses to|wins)\b|"
    r"(?:faster|slower|more accurate|less accurate) than|as (?:good|fast|accurate) as|on par with|"
    r"far (?:better|worse|larger|smaller)|much (?:better|worse|larger|smaller)|"
    r"(?:larger|smaller) than (?:the|that of|those of|ours|it)\b)", re.I)
WINDOW = 40  # characters between the number and the comparison word
WAIVER = re.compile(r"<!--\s*prose-numbers:\s*\S")
ASSERT = re.compile(r"^\s*assert\b", re.M)


def _plain(markdown: str) -> str:
    """The prose only: no code, maths, roles' targets, links' addresses, comments or directives' options."""
    text = re.sub(r"```.*?```|~~~.*?~~~", " ", markdown, flags=re.S)      # fenced blocks
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text, flags=re.S)     # maths
    text = re.sub(r"\{glue:?\w*\}`[^`]*`", " GLUE ", text)                # pasted values
    text = re.sub(r"\{[\w:-]+\}`[^`]*`|`[^`]*`", " ", text)               # roles, inline code
    text = re.sub(r"\]\([^)]*\)", "]", text)                              # link targets
    text = re.sub(r"^:[\w-]+:.*$", " ", text, flags=re.M)                 # directive options
    return text


def _sentences(text: str) -> list[str]:
    paragraphs = re.split(r"\n\s*\n|\n\s*(?=[-*] |\d+\. )", text)  # list items stand alone
    return [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", " ".join(p.split()))]


def unbacked_claims(markdown: str) -> list[str]:
    """The sentences of ``markdown`` that state a number with a unit next to a comparison word, or
    rank a result in words, with no glue reference in the sentence."""
    claims = []
    for sentence in _sentences(_plain(markdown)):
        if "GLUE" in sentence:
            continue
        if QUALITATIVE.search(sentence):
            claims.append(sentence)
            continue
        numbers = [m.start() for m in NUMBER_WITH_UNIT.finditer(sentence)]
        words = [m.start() for m in COMPARISON.finditer(sentence)]
        if any(abs(n - w) <= WINDOW for n in numbers for w in words):
            claims.append(sentence)
    return claims


def page_claims(path: Path) -> list[str]:
    """Unbacked claims of one page: the markdown cells of a notebook (a neighbouring code cell with
    an ``assert`` backs its claims), or the paragraphs of a .md page. A waiver covers its cell or
    paragraph."""
    if path.suffix == ".md":
        text = re.sub(r"```.*?```|~~~.*?~~~", " ", path.read_text(), flags=re.S)  # before splitting paragraphs
        return [claim for paragraph in re.split(r"\n\s*\n", text) if not WAIVER.search(paragraph)
                for claim in unbacked_claims(paragraph)]
    cells = nbformat.read(path, as_version=4).cells
    found = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or WAIVER.search(cell.source):
            continue
        neighbours = [cells[j] for j in (i - 1, i + 1) if 0 <= j < len(cells) and cells[j].cell_type == "code"]
        if any(ASSERT.search(c.source) for c in neighbours):
            continue
        found += [f"cell {i}: {claim}" for claim in unbacked_claims(cell.source)]
    return found


@pytest.mark.parametrize("sentence", [
    "The GPT ends 0.3 bits per character ahead of the RNN.",
    "Our layer is 3x faster than PyTorch's.",
    "It reaches 97% test accuracy.",
    "After 120 s the loss is lower than the bigram's.",
    "Test accuracy rose to 97.5%.",
    "The ensemble is 1.5 percentage points better than its best member.",
    # words without numbers: each of these was once false on the page that printed it
    "At this start the gated nets are no better than the vanilla RNN.",
    "The LSTM's gradient hardly decays at all.",
    "The vanilla RNN stays near chance.",
    "The distilled student is the smallest, so making the model smaller is the most reliable compression.",
    "The GRU beats the LSTM on this task.",
    "Compiled, the step is faster than eager.",
])
def test_the_lint_flags_unbacked_claims(sentence):
    assert unbacked_claims(sentence) == [sentence]


@pytest.mark.parametrize("markdown", [
    "The GPT ends {glue:text}`gpt_lead:.2f` bits per character ahead of the RNN.",
    "A layer of 256 units and a batch of 64 images.",        # numbers, no comparison
    "The second network is deeper than the first.",          # comparison, no number
    "With $p \\le 0.5$ and `lr=0.1` the loss falls.",        # maths and code are not prose
    "In 2012 AlexNet won the ImageNet challenge by a wide margin over the other entries.",
    "We train for at most 60 epochs, with more than 300 validation digits.",  # settings
    "```python\nassert 3 > 2  # 3 s faster\n```",
    "A larger learning rate takes bigger steps.",            # a definition, not a result
])
def test_the_lint_leaves_other_prose_alone(markdown):
    assert unbacked_claims(markdown) == []


def test_a_waiver_or_a_neighbouring_assert_backs_a_cell(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("It reaches 97% test accuracy."),
        nbformat.v4.new_markdown_cell("The notes claim 99% accuracy, far above ours.\n"
                                      "<!-- prose-numbers: a quotation -->"),
        nbformat.v4.new_markdown_cell("It is 3x faster than the loop."),
        nbformat.v4.new_code_cell("assert speedup > 3"),
    ])
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    assert page_claims(path) == ["cell 0: It reaches 97% test accuracy."]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_every_number_the_prose_compares_comes_from_the_run(path):
    claims = page_claims(path)
    assert not claims, (f"{path.name} states results the page's run does not back; glue the value "
                        "({glue:text}`name`), assert it in a neighbouring cell, or word it so no run can "
                        "contradict it:\n" + "\n".join(claims))
