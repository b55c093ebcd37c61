"""Author-year citations whose text and bibliography labels agree, letters included.

Two styles:

- the pybtex style ``authoryear`` labels the bibliography's entries the way the text cites
  them: one author "Last", two "Last and Last", three or more "Last et al.", then the year.
  Two entries with the same label get "a", "b" after the year, in the order of the sorted
  list. Entries sort by author, year and title (pybtex's ``plain`` style, whose formatting
  this style keeps). Use it with ``:style: authoryear`` on the ``{bibliography}`` directive.
- the sphinxcontrib-bibtex referencing style ``author_year_letters`` is its ``author_year``
  style with the year taken from that label, so ``{cite:p}`` and ``{cite:t}`` print
  "LeCun et al., 1998a" and "LeCun et al., 1998b" for two works that would otherwise read
  alike in the text. Set ``bibtex_reference_style: author_year_letters``.
"""

import codecs
from collections import Counter
from dataclasses import dataclass

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
from pybtex.plugin import find_plugin, register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex import plugin as bibtex_plugin
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.template import join, join2, node, post_text, pre_text, reference


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


@node
def labelled_year(children, data):
    """The year as the bibliography labels the entry, with its letter if it has one ("1998a")."""
    assert not children
    return Text(data["formatted_entry"].label.rpartition(", ")[2])


@dataclass
class _ParentheticalWithLetters(BasicAuthorYearParentheticalReferenceStyle):
    def inner(self, role_name):
        author = self.person.author_or_editor_or_title(full="s" in role_name)
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text, reference[join(sep=self.author_year_sep)[author, labelled_year]], post_text
        ]


@dataclass
class _TextualWithLetters(BasicAuthorYearTextualReferenceStyle):
    def inner(self, role_name):
        author = self.person.author_or_editor_or_title(full="s" in role_name)
        in_brackets = join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text, reference[labelled_year], post_text
        ]
        return join(sep=self.text_reference_sep)[
            author, join[self.bracket.left, in_brackets, self.bracket.right]
        ]


@dataclass
class AuthorYearLettersReferenceStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's ``author_year``, with the letters of the bibliography's labels."""

    def __post_init__(self):
        super().__post_init__()
        with_letters = [
            _ParentheticalWithLetters(
                bracket=self.bracket_parenthetical, person=self.person,
                author_year_sep=self.author_year_sep, pre_text_sep=self.pre_text_sep,
                post_text_sep=self.post_text_sep,
            ),
            _TextualWithLetters(
                bracket=self.bracket_textual, person=self.person,
                text_reference_sep=self.text_reference_sep, pre_text_sep=self.pre_text_sep,
                post_text_sep=self.post_text_sep,
            ),
        ]
        self.role_style.update((role, style) for style in with_letters for role in style.role_names())


def setup(app):
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    bibtex_plugin.register_plugin(
        "sphinxcontrib.bibtex.style.referencing", "author_year_letters", AuthorYearLettersReferenceStyle
    )
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
