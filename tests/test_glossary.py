"""The appendices' data: the English-Chinese glossary and the bibliography labels.

The glossary (``chapters/glossary.csv``) must link every term to a section that exists, and
contain every term a chapter (in the toc) defines in bold. A bold span counts as a definition
unless it is a lead-in (it ends with punctuation, starts with a digit or holds code, or it opens
a list item with four words or more), a list of one-letter symbols ("i, f, g, o"), or is listed
in ``EMPHASIS`` below: words bolded for stress, not defined. When a chapter bolds a new term,
add a row to the CSV; when it bolds a word only for stress, add it to ``EMPHASIS``.
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
sys.path.insert(0, str(ROOT / "_ext"))

import bib_author_year  # noqa: E402
import glossary_table  # noqa: E402

# Bold used for stress or as a label, not to define a term (compared lower-cased).
EMPHASIS = {
    "you will learn", "vanishes", "explodes", "add up", "every", "all", "and", "sum", "whole",
    "time", "global", "the same", "length varies", "order matters", "generates", "by file",
    "blog post", "without changing its direction", "vision", "at most 1/4", "no forget gate",
    "first", "by time", "steps",
}

BOLD = re.compile(r"\*\*([^*]+?)\*\*")
LIST_LEAD_IN = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+\*\*([^*]+?)\*\*", re.MULTILINE)
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)
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
    """The bold spans of ``markdown`` that define a term (see the module docstring)."""
    prose = FENCE.sub("", markdown)
    lead_ins = {normalise(s) for s in LIST_LEAD_IN.findall(prose) if len(s.split()) >= 4}
    return [span for span in map(normalise, BOLD.findall(prose))
            if span not in lead_ins and is_definition(span)]


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
    assert not missing, "\n".join(missing)


def test_every_bold_term_of_the_chapters_is_in_the_glossary():
    names, missing = known_terms(read_rows()), []
    for page, text in chapter_texts():
        for span in defined_terms(text):
            if not in_glossary(span, names):
                missing.append(f"{page}: **{span}**")
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


def test_a_malformed_glossary_is_rejected(tmp_path):
    bad = tmp_path / "glossary.csv"
    bad.write_text("term,chinese\nweight,权重\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected the header"):
        glossary_table.read_glossary(bad)


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


def test_every_label_is_the_text_citation_of_its_entry():
    """The label of each entry equals what ``{cite:p}`` prints for it (sphinxcontrib-bibtex's
    ``author_year`` style, set in ``_config.yml``), letter for two equal labels aside."""
    from pybtex.backends.plaintext import Backend
    from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
    from sphinxcontrib.bibtex.style.template import join, year

    style, plain_text = AuthorYearReferenceStyle(), Backend()  # render_as() looks it up each time
    in_text = join(sep=", ")[style.person.author_or_editor_or_title(full=False), year]
    for key, entry in _entries().items():
        cited = in_text.format_data({"entry": entry, "style": style}).render(plain_text)
        assert bib_author_year.author_year_label(entry) == cited, key


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
