"""A pybtex style ``authoryear`` whose labels read like the citations in the text.

The book cites with ``bibtex_reference_style: author_year`` ("Rumelhart et al., 1986"), so
the bibliography labels its entries the same way: one author "Last", two "Last and Last",
three or more "Last et al.", then the year. Two entries with the same label get "a", "b"
after the year, in the order of the sorted list. Entries sort by author, year and title
(pybtex's ``plain`` style, whose formatting this style keeps).

Use it with ``:style: authoryear`` on the ``{bibliography}`` directive.
"""

import codecs
from collections import Counter

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import find_plugin, register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _plain(latex):
    """``K{\\"o}pf`` -> ``Köpf`` (pybtex's rich-text rendering is far slower)."""
    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "")


def _last_name(person):
    return _plain(" ".join(person.prelast_names + person.last_names))


def _author_part(entry):
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    if not persons:
        return entry.key
    names = [_last_name(p) for p in persons]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def author_year_label(entry):
    """``Rumelhart et al., 1986`` for a pybtex entry (no disambiguating letter)."""
    return f"{_author_part(entry)}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        labels = [author_year_label(e) for e in sorted_entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                label_with_letter = f"{label}{'abcdefghijklmnopqrstuvwxyz'[seen[label]]}"
                seen[label] += 1
                yield label_with_letter
            else:
                yield label


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = find_plugin("pybtex.style.sorting", "author_year_title")


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
