"""The appendices' data: the English-Chinese glossary, the errata table and the citations.

The glossary (``chapters/glossary.csv``) must link every term to a section that exists and
names it (the term, one of its aliases or, for a few terms, the words listed in ``WORDED``), and
contain every term a chapter (in the toc) marks as one it defines:

- a **bold** span, unless it is a lead-in (it ends with punctuation, starts with a digit or
  holds code, or it opens a list item with four words or more), a list of one-letter symbols
  ("i, f, g, o"), or is listed in ``EMPHASIS`` below: words marked for stress, not defined;
- an *italic* span of two words or more, with the same exceptions (one italic word is stress);
- an abbreviation introduced in parentheses, "true positives (TP)" or "(FP: predicted ...)";
- the name after "called" or "known as", up to the next punctuation ("often called the Elman
  network;").

A heading is not a mark: the section under it must mark the term in its text. Terms defined in
plain words are added to the CSV by hand. When a chapter marks a new term, add a row to the
CSV; when it marks words only for stress, add them to ``EMPHASIS``.

The errata page (``chapters/errata.md``) and the chapters' warning boxes must agree: every box
whose title starts "The notes" has a row whose last column names it (``{doc}`page`, box "words
of its title"``), every box a row names exists, and a row without a box says "no box" and why.
"""

import csv
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from docutils.nodes import make_id

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
GLOSSARY = CHAPTERS / "glossary.csv"
ERRATA = CHAPTERS / "errata.md"
sys.path.insert(0, str(ROOT / "_ext"))

import bib_author_year  # noqa: E402
import glossary_table  # noqa: E402

# Bold used for stress or as a label, not to define a term (compared lower-cased).
EMPHASIS = {
    "you will learn", "vanishes", "explodes", "add up", "every", "all", "and", "sum", "whole",
    "time", "global", "the same", "length varies", "order matters", "generates", "by file",
    "blog post", "without changing its direction", "vision", "at most 1/4", "no forget gate",
    "first", "by time", "steps",
    "higher training error", "fast generator", "fast generator + minibatch std", "from scratch",
}

# Terms whose linked section names them in other words (compared lower-cased, without emphasis).
WORDED = {
    "numerical gradient check": "gradients numerically",
    "grid search": "grid, random and bayesian search",
    "class imbalance": "imbalanced",
    "translation invariance": "invariance",
    "elastic restart": "restart elastically",
}

BOLD = re.compile(r"\*\*([^*]+?)\*\*")
LIST_LEAD_IN = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\*\*([^*]+?)\*\*", re.MULTILINE)
ITALIC = re.compile(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])")
ABBREVIATION = re.compile(r"\(([A-Z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*?)s?[):]")  # "(TP)", "(FP: ..."
CALLED = re.compile(r"\b(?:called|known as) +(?:the +|an? +)?[*\"“]*([A-Za-z][\w-]*(?: [\w-]+){0,3})[*\"”]*"
                    r"(?= *[,.;:()]| *$)")
NOT_PROSE = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`\n]*`|<!--.*?-->", re.DOTALL)  # maths, code, comments
BOX = re.compile(r"^(:{3,}|`{3,})\{admonition\} +(The notes.*?) *$", re.MULTILINE)
BOX_REFERENCE = re.compile(r"\{doc\}`([^`]+)`,? box \"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)
HEADING_LEVEL = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.MULTILINE)
LABEL = re.compile(r"^\(([^()\s]+)\)=\s*$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)  # code, not ::: boxes of prose


def normalise(term):
    return " ".join(term.lower().split())


def read_rows():
    return glossary_table.read_glossary(GLOSSARY)


def page_source(page):
    """The markdown text of a book page (all markdown cells of a notebook), or None."""
    md, nb = CHAPTERS / f"{page}.md", CHAPTERS / f"{page}.ipynb"
    if md.exists():
        return md.read_text(encoding="utf-8")
    if nb.exists():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return None


def page_anchors(text):
    """The HTML ids a page's headings get (docutils ``make_id``; a repeated heading gets a
    generated id, so only its first occurrence counts) and its explicit ``(label)=`` targets."""
    prose = FENCE.sub("", text)
    return {make_id(h) for h in HEADING.findall(prose)} | set(LABEL.findall(prose))


def section_text(text, anchor):
    """The text of the section whose heading (or ``(label)=`` target) has id ``anchor``, from
    its heading to the next heading of the same or a higher level; the whole page if no anchor."""
    prose = FENCE.sub("", text)
    if not anchor:
        return prose
    headings = [(m.start(), len(m.group(1)), make_id(m.group(2))) for m in HEADING_LEVEL.finditer(prose)]
    labels = {m.group(1): m.end() for m in LABEL.finditer(prose)}
    if anchor in labels:  # a label names the heading that follows it
        start, level = next(((s, n) for s, n, _ in headings if s >= labels[anchor]), (labels[anchor], 0))
    else:
        start, level = next((s, n) for s, n, id_ in headings if id_ == anchor)
    end = next((s for s, n, _ in headings if s > start and n <= level), len(prose))
    return prose[start:end]


def names_term(section, row):
    """Whether a section's text names a glossary row's term, an alias or its ``WORDED`` words."""
    words = normalise(section.replace("*", ""))
    names = {normalise(row["english"])} | known_terms([row])
    if normalise(row["english"]) in WORDED:
        names.add(WORDED[normalise(row["english"])])
    return any(name in words for name in names)


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return {Path(f).name for f in files}


def chapter_texts():
    """(page, markdown) for every numbered chapter of the book (in the toc) from 1 on."""
    for page in sorted(toc_pages()):
        if re.match(r"\d\d_", page) and not page.startswith("00_"):
            yield page, page_source(page)


def defined_terms(markdown):
    """The terms ``markdown`` marks as defined, in order of kind (see the module docstring)."""
    prose = FENCE.sub("", markdown)
    lead_ins = {normalise(s) for s in LIST_LEAD_IN.findall(prose) if len(s.split()) >= 4}
    bold = [span for span in map(normalise, BOLD.findall(prose))
            if span not in lead_ins and is_definition(span)]
    words = " ".join(NOT_PROSE.sub(" ", prose).split())  # one line: a mark may span a line break
    italic = [span for span in map(normalise, ITALIC.findall(BOLD.sub(" ", words)))
              if len(span.split()) >= 2 and is_definition(span)]
    abbreviations = [normalise(a) for a in ABBREVIATION.findall(words)]
    called = [normalise(name) for name in CALLED.findall(words)]
    return bold + italic + abbreviations + called


def is_definition(span):
    span = normalise(span)
    symbols_only = all(len(word) == 1 for word in re.findall(r"\w+", span))
    return not (span.endswith((".", ":", "?", "!")) or span[0].isdigit() or "`" in span
                or symbols_only or span in EMPHASIS)


def known_terms(rows):
    names = set()
    for row in rows:
        names.add(normalise(row["english"]))
        names |= {normalise(a) for a in row["aliases"].split(";") if a.strip()}
    return names


def in_glossary(term, names):
    term = normalise(term)
    return term in names or (term.endswith("s") and term[:-1] in names)


# --- the glossary file -------------------------------------------------------------------


def test_glossary_is_well_formed():
    rows = read_rows()
    assert len(rows) >= 150, f"the glossary has {len(rows)} terms; the book defines more"
    seen = {}  # every name (term or alias) -> the line that has it
    for n, row in enumerate(rows, start=2):
        assert row["english"].strip() and row["page"].strip(), f"line {n}: empty term or page"
        assert row["chinese"].strip(), f"line {n}: no Chinese for {row['english']!r}"
        for name in {normalise(row["english"])} | known_terms([row]):
            assert name not in seen, f"line {n}: {name!r} is already on line {seen[name]}"
            seen[name] = n


def test_every_link_target_exists():
    pages, missing = toc_pages(), []
    for row in read_rows():
        text = page_source(row["page"])
        if text is None or row["page"] not in pages:
            missing.append(f"{row['english']}: page {row['page']!r} is not in the book")
        elif row["anchor"] and row["anchor"] not in page_anchors(text):
            missing.append(f"{row['english']}: no heading or label {row['anchor']!r} in {row['page']}")
        elif not names_term(section_text(text, row["anchor"]), row):
            missing.append(f"{row['english']}: section {row['anchor'] or '(page top)'!r} of {row['page']} "
                           "never names the term or an alias (link the right section, or add an alias)")
    assert not missing, "\n".join(missing)


def test_the_section_check_reads_only_the_linked_section():
    text = ("# 5. Recurrent networks\nA **hidden state** is a memory.\n## 5.1 Concepts\n"
            "### Recurrence\nThe *state* $h_t$ feeds back.\n### Sequences\nA hidden state again.\n"
            "(my-label)=\n## Later\nActivation checkpointing.\n")
    row = {"english": "hidden state", "aliases": ""}
    assert "Sequences" not in section_text(text, "recurrence")
    assert not names_term(section_text(text, "recurrence"), row)
    assert names_term(section_text(text, "sequences"), row) and names_term(section_text(text, ""), row)
    assert names_term(section_text(text, "concepts"), row)  # a section holds its subsections
    assert section_text(text, "my-label").startswith("## Later")
    assert names_term("*Activation* checkpointing", {"english": "activation checkpointing", "aliases": ""})


def test_every_term_a_chapter_marks_is_in_the_glossary():
    names, missing = known_terms(read_rows()), []
    for page, text in chapter_texts():
        for span in defined_terms(text):
            if not in_glossary(span, names):
                missing.append(f"{page}: {span!r}")
    hint = "add these terms to chapters/glossary.csv (or to EMPHASIS):\n"
    assert not missing, hint + "\n".join(sorted(set(missing)))


def test_anchor_ids_follow_docutils():
    text = ("# 3. Training\n## 3.1 Concepts\n```python\n# not a heading\n```\n"
            "(my-label)=\n### Why divide, and how?\n")
    assert page_anchors(text) == {"training", "concepts", "my-label", "why-divide-and-how"}


def test_the_checks_catch_a_missing_term(tmp_path):
    names = known_terms([{"english": "kernel", "aliases": "filter;window"}])
    assert in_glossary("Kernels", names) and in_glossary("window", names)
    assert not in_glossary("stride", names)
    assert not is_definition("Shapes that broadcast silently.") and is_definition("feature map")
    assert not is_definition("i, f, g, o") and is_definition("GPT")
    text = "A **kernel** slides.\n\n- **A forgotten causal mask** leaks.\n- **Padding** adds zeros."
    assert defined_terms(text) == ["kernel", "padding"]


def test_terms_defined_without_bold_are_found():
    text = ("The *roofline\nmodel* makes it precise; a sum *adds*. Count the true positives (TP),\n"
            "false positives (FP: predicted it) and errors ($E(XY)$, `f(AB)`). It is often called\n"
            "the Elman network; the loop is called the **constant error carousel**, known as\n"
            "the *CEC*.\n\n# A heading is not a definition")
    assert defined_terms(text) == ["constant error carousel", "roofline model", "tp", "fp", "elman network",
                                   "constant error carousel", "cec"]


def test_removing_a_row_fails_the_glossary_check():
    """The check the suite runs, on the glossary minus one term that a chapter marks only in
    italics, one it introduces with an abbreviation and one it names after "called"."""
    marked = [span for _, text in chapter_texts() for span in defined_terms(text)]
    assert all(in_glossary(span, known_terms(read_rows())) for span in marked), \
        "the full glossary already misses a term: this test would pass whatever it removes"
    for gone in ("simple recurrent network", "true positive", "roofline model"):
        rows = [row for row in read_rows() if row["english"] != gone]
        names = known_terms(rows)
        assert not all(in_glossary(span, names) for span in marked), f"{gone}: nothing noticed it missing"


def test_a_malformed_glossary_is_rejected(tmp_path):
    bad = tmp_path / "glossary.csv"
    bad.write_text("term,chinese\nweight,权重\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected the header"):
        glossary_table.read_glossary(bad)


# --- the errata page and the chapters' warning boxes ------------------------------------


def notes_boxes():
    """(page, title) of every warning box about the notes in the book's chapters."""
    return [(page, normalise(title)) for page, text in chapter_texts()
            for _, title in BOX.findall(FENCE.sub("", text))]


def errata_rows():
    """The body rows of the errata page's tables, each a list of its cells."""
    rows = []
    for line in ERRATA.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and not set(line) <= set("|- ") and cells[0] != "the notes say":
            rows.append(cells)
    return rows


def boxes_named_by(cell):
    return [(page, normalise(words)) for page, words in BOX_REFERENCE.findall(cell)]


def test_every_errata_row_names_its_box_or_says_why_there_is_none():
    rows = errata_rows()
    assert len(rows) >= 40, f"only {len(rows)} rows: is the table still parsed?"
    for cells in rows:
        assert len(cells) == 3, f"expected 3 columns (the notes say, in fact, where): {cells[0]!r}"
        assert boxes_named_by(cells[2]) or "no box" in cells[2], \
            f"{cells[0]!r}: name its warning box ({{doc}}`page`, box \"words of its title\") or say 'no box' and why"


def test_every_box_an_errata_row_names_exists():
    boxes, wrong = notes_boxes(), []
    for cells in errata_rows():
        for page, words in boxes_named_by(cells[-1]):
            found = [title for box_page, title in boxes if box_page == page and words in title]
            if len(found) != 1:
                wrong.append(f"{cells[0]!r}: {len(found)} boxes of {page} have {words!r} in their title")
    assert not wrong, "\n".join(wrong)


def test_every_box_about_the_notes_has_an_errata_row():
    named = [ref for cells in errata_rows() for ref in boxes_named_by(cells[-1])]
    boxes = notes_boxes()
    assert len(boxes) >= 20, f"only {len(boxes)} boxes found: is the box syntax still matched?"
    missing = [f"{page}: {title}" for page, title in boxes
               if not any(ref_page == page and words in title for ref_page, words in named)]
    assert not missing, "add a row to chapters/errata.md for each box:\n" + "\n".join(missing)


def test_the_errata_checks_read_boxes_and_rows():
    text = (":::{admonition} The notes say pooling has weights; in fact it has none\n:class: warning\n"
            "Text.\n:::\n```python\n# :::{admonition} The notes in code\n```\n")
    assert BOX.findall(FENCE.sub("", text)) == [(":::", "The notes say pooling has weights; in fact it has none")]
    cell = '{doc}`04_convolutional_networks`, box "pooling has weights"; {doc}`03_x`, box "F1"'
    assert boxes_named_by(cell) == [("04_convolutional_networks", "pooling has weights"), ("03_x", "f1")]


# --- the bibliography --------------------------------------------------------------------


def _entries():
    from pybtex.database import parse_file

    return parse_file(str(ROOT / "references.bib")).entries


def test_labels_read_like_the_author_year_citations():
    from pybtex.database import Entry, Person

    def entry(*authors):
        e = Entry("article", fields={"year": "1986"})
        e.persons["author"] = [Person(a) for a in authors]
        return e

    label = bib_author_year.author_year_label
    assert label(entry("Elman, Jeffrey L.")) == "Elman, 1986"
    assert label(entry("Hubel, D.", "Wiesel, T.")) == "Hubel and Wiesel, 1986"
    assert label(entry("Rumelhart, D.", "Hinton, G.", "Williams, R.")) == "Rumelhart et al., 1986"
    assert label(entry(r'K{\"o}pf, Andreas')) == "Köpf, 1986"


def _citations():
    """{key: (bibliography label, what ``{cite:p}`` prints, what ``{cite:t}`` prints)} for every
    entry, as if every entry were cited, in the style ``_config.yml`` sets."""
    from pybtex.plugin import find_plugin
    from sphinxcontrib.bibtex.plugin import find_plugin as find_bibtex_plugin
    from sphinxcontrib.bibtex.style.referencing import format_references
    from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    bib_author_year.setup(None)
    citing = find_bibtex_plugin("sphinxcontrib.bibtex.style.referencing",
                                config["sphinx"]["config"]["bibtex_reference_style"])()
    listing = find_plugin("pybtex.style.formatting", "authoryear")()
    entries = _entries()
    link = SphinxReferenceInfo(builder=None, fromdocname="", todocname="", citation_id="", title=None,
                               pre_text="", post_text="")

    def cite(role, formatted):
        text = format_references(citing, role, [(entries[formatted.key], formatted, link)])
        return str(text).replace("<nbsp>", " ")  # pybtex's markup for a non-breaking space

    return {f.key: (f.label, cite("p", f), cite("t", f)) for f in listing.format_entries(entries.values())}


def test_every_text_citation_is_the_label_of_its_entry():
    """``{cite:p}`` prints each entry's bibliography label, letter included: "LeCun et al.,
    1998a" and "1998b" tell apart two works that share authors and year."""
    citations = _citations()
    for key, (label, parenthetical, _) in citations.items():
        assert parenthetical.strip("[]()") == label, key
    assert [citations[key][2] for key in ("lecun1998gradient", "lecun1998mnist")] == [
        "LeCun et al. [1998a]", "LeCun et al. [1998b]"]


def test_labels_without_letters_are_the_names_and_year_of_the_entry():
    for key, entry in _entries().items():
        assert bib_author_year.author_year_label(entry).rsplit(", ", 1)[1] == entry.fields["year"], key


def test_every_bibliography_label_is_unique_and_author_year():
    from pybtex.plugin import find_plugin

    bib_author_year.setup(None)
    style = find_plugin("pybtex.style.formatting", "authoryear")()
    labels = list(style.format_labels(style.sort(_entries().values())))
    assert len(labels) == len(set(labels)), "two entries share a label"
    for label in labels:
        assert re.fullmatch(r"[^,]+, (\d{4}[a-z]?|n\.d\.)", label), label
        assert " others" not in label, f"{label}: list the authors instead of 'and others'"


def test_venue_names_are_those_of_their_time():
    """NeurIPS was called NIPS until the 2018 conference."""
    for key, entry in _entries().items():
        venue = entry.fields.get("booktitle", "") + entry.fields.get("howpublished", "")
        year = int(entry.fields["year"])
        if "NeurIPS" in venue:
            assert year >= 2018, f"{key}: NIPS in {year}, not NeurIPS"
        if re.search(r"\bNIPS\b", venue) and "Neural Information" in venue:
            assert year < 2018, f"{key}: NeurIPS in {year}, not NIPS"


def test_the_bibliography_page_uses_the_author_year_style():
    assert ":style: authoryear" in (CHAPTERS / "bibliography.md").read_text(encoding="utf-8")
