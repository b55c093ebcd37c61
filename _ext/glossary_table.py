"""The ``glossary-table`` directive: renders ``chapters/glossary.csv`` as a sortable table.

The CSV (columns ``english, chinese, variants, page, anchor, aliases``) is the single source
of the glossary; ``tests/test_glossary.py`` checks it against the chapters. ``chinese`` is the
usual Simplified Chinese name, ``variants`` other names in use (those of the Chinese textbooks
where they differ), written as they are to be shown. Each row links to the page (and heading id)
where the book defines the term; ``aliases`` (other English names, ``;``-separated) are only
used by the test. Links are resolved once every page
has been read, so a page or heading id that does not exist is a build warning (an error
under ``--warningiserror``). ``_static/sortable-table.js`` makes the columns sortable.

Usage in MyST::

    ```{glossary-table} glossary.csv
    ```
"""

import csv
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

COLUMNS = ("english", "chinese", "variants", "page", "anchor", "aliases")


def read_glossary(path):
    """The glossary rows as dicts, in file order; raises ValueError on a malformed file."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: expected the header {','.join(COLUMNS)}, got {reader.fieldnames}")
        return list(reader)


class glossary_link(nodes.General, nodes.Inline, nodes.Element):
    """A link to ``page#anchor``, resolved into a reference once all pages are read."""


def _cell(*children):
    entry = nodes.entry()
    entry += nodes.paragraph("", "", *children)
    return entry


def _row(cells, classes=()):
    row = nodes.row()
    for cell, cls in zip(cells, classes or [None] * len(cells)):
        if cls:
            cell["classes"].append(cls)
        row += cell
    return row


# The column headers in each edition's language (the English edition's for any other).
HEADERS = {
    "en": ("English", "中文", "其他译名 (other names)", "Defined in"),
    "zh_CN": ("英文", "中文", "其他译名", "定义所在章节"),
}


class GlossaryTable(SphinxDirective):
    required_arguments = 1  # the CSV file, relative to the page

    def run(self):
        csv_path = Path(self.env.doc2path(self.env.docname)).parent / self.arguments[0]
        self.env.note_dependency(str(csv_path))
        try:
            rows = read_glossary(csv_path)
        except (OSError, ValueError) as err:
            raise self.error(str(err))
        rows.sort(key=lambda r: r["english"].lower())

        table = nodes.table(classes=["sortable", "glossary-table"])
        group = nodes.tgroup(cols=4)
        table += group
        for width in (28, 18, 20, 34):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        headers = HEADERS.get(self.env.config.language, HEADERS["en"])
        head += _row([_cell(nodes.Text(t)) for t in headers])
        group += head
        body = nodes.tbody()
        for r in rows:
            link = glossary_link(page=r["page"], anchor=r["anchor"], fromdoc=self.env.docname)
            chinese = [_cell(nodes.Text(r[column])) for column in ("chinese", "variants")]
            for cell in chinese:
                cell["classes"].append("lang-zh")
            body += _row([_cell(nodes.Text(r["english"])), *chinese, _cell(link)])
        group += body
        return [table]


def _target_docname(fromdoc, page):
    """``page`` is a document name relative to the glossary's folder (``03_training_deep_networks``)."""
    folder = fromdoc.rsplit("/", 1)[0] + "/" if "/" in fromdoc else ""
    return folder + page


def _section_title(doctree, anchor):
    for section in doctree.findall(nodes.section):
        if anchor in section["ids"]:
            return section[0].astext()
    return None


def resolve_links(app, doctree, fromdocname):
    env = app.env
    for node in list(doctree.findall(glossary_link)):
        docname = _target_docname(node["fromdoc"], node["page"])
        anchor = node["anchor"]
        if docname not in env.found_docs:
            logger.warning(f"glossary: no page {docname!r}", location=node)
            node.replace_self(nodes.Text(node["page"]))
            continue
        text = env.titles[docname].astext() if docname in env.titles else node["page"]
        if anchor and docname in env.all_docs:  # every page is read in a full build
            title = _section_title(env.get_doctree(docname), anchor)
            if title is None:
                logger.warning(f"glossary: no heading id {anchor!r} in {docname!r}", location=node)
            else:
                text = f"{text}: {title}"
        uri = app.builder.get_relative_uri(fromdocname, docname) + (f"#{anchor}" if anchor else "")
        node.replace_self(nodes.reference("", text, refuri=uri, internal=True))


def setup(app):
    app.add_node(glossary_link)
    app.add_directive("glossary-table", GlossaryTable)
    app.connect("doctree-resolved", resolve_links)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
