"""The exercises in other languages: the student release with its instructions translated.

    python tools/exercise_i18n.py extract DIR            # exercises/<assignment>.pot under DIR
    python tools/exercise_i18n.py release [ASSIGNMENT ...] [--course .]

A translated release is made from the English release (`exercises/<assignment>/`, what nbgrader
generates from `solutions/`), not from the source: the same notebook, cell for cell, with the
same cell ids, grade ids, points and code. Only the instruction cells (markdown that is not an
answer) are translated, paragraph by paragraph, from `locales/<code>/LC_MESSAGES/exercises/
<assignment>.po`; a paragraph without a translation stays English. Their nbgrader checksums are
computed again over the translated text, so the Validate button accepts the notebook as
released. The result goes to `exercises_<code>/<assignment>/`, under the same file name.

Grading does not depend on the language: `python -m instructor autograde` keeps only the
answer cells of a submission (by grade id) and takes every other cell, the instructions
included, from the gradebook (instructor/assemble.py). So a class may mix both releases in one
gradebook; the graded notebook and the feedback show the English instructions.

Code cells are never translated, tests included: their sources (and so their checksums) stay
those of the gradebook, and a test's message is framed in English by `utils.testing` anyway.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
DOMAIN = "exercises"  # catalogs: locales/<code>/LC_MESSAGES/exercises/<assignment>.po


def is_instruction(cell) -> bool:
    """A markdown cell students read but do not answer in."""
    return cell.cell_type == "markdown" and not cell.metadata.get("nbgrader", {}).get("solution", False)


def has_words(text: str) -> bool:
    """Whether a message has prose to translate: letters outside math, code, links and markup."""
    text = re.sub(r"```.*?```|~~~.*?~~~", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$|\$[^$]+\$|`[^`]*`|\{[\w:-]+\}|https?://\S+|<[^>]+>", " ", text, flags=re.S)
    return re.search(r"[A-Za-z]{2,}", text) is not None


def split_blocks(source: str) -> list[tuple[str, bool]]:
    """The cell's text as (piece, is_paragraph): paragraphs and the blank lines between them.

    A fenced code block or a $$ display with blank lines inside stays one paragraph.
    """
    pieces, block, open_fence = [], [], None
    for line in source.splitlines(keepends=True):
        stripped = line.strip()
        if open_fence is None and not stripped:
            if block:
                pieces.append(("".join(block), True))
                block = []
            pieces.append((line, False))
            continue
        block.append(line)
        fence = re.match(r"(```|~~~)", stripped)
        if fence and open_fence is None:
            open_fence = fence.group(1)
        elif open_fence in ("```", "~~~") and stripped.startswith(open_fence) and len(block) > 1:
            open_fence = None
        elif open_fence is None and stripped.count("$$") % 2 == 1:
            open_fence = "$$"
        elif open_fence == "$$" and stripped.count("$$") % 2 == 1:
            open_fence = None
    if block:
        pieces.append(("".join(block), True))
    return pieces


def message_of(paragraph: str) -> str:
    """A paragraph as a message: without the line break that ends it."""
    return paragraph.rstrip("\n")


def messages(nb) -> list[tuple[str, str]]:
    """(message, grade id of its cell) for every paragraph to translate, in order, once each."""
    seen, found = set(), []
    for cell in nb.cells:
        if not is_instruction(cell):
            continue
        for piece, is_paragraph in split_blocks(cell.source):
            message = message_of(piece)
            if is_paragraph and has_words(message) and message not in seen:
                seen.add(message)
                found.append((message, cell.metadata.get("nbgrader", {}).get("grade_id", "")))
    return found


def translate(nb, translations: dict[str, str]):
    """The notebook with its instruction paragraphs translated and their checksums recomputed."""
    from nbgrader.utils import compute_checksum

    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if not is_instruction(cell):
            continue
        pieces = []
        for piece, is_paragraph in split_blocks(cell.source):
            message = message_of(piece)
            if is_paragraph and translations.get(message):
                piece = translations[message] + piece[len(message):]
            pieces.append(piece)
        cell.source = "".join(pieces)
        grading = cell.metadata.get("nbgrader", {})
        if "checksum" in grading:
            grading["checksum"] = compute_checksum(cell)
    return nb


def read_translations(po_file: Path) -> dict[str, str]:
    """msgid -> msgstr of a catalog, leaving out empty and fuzzy entries (as Sphinx does)."""
    from babel.messages.pofile import read_po

    if not po_file.exists():
        return {}
    with po_file.open("rb") as f:
        catalog = read_po(f)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def release_notebooks(course: Path, assignment: str) -> list[Path]:
    return sorted((course / "exercises" / assignment).glob("*.ipynb"))


def extract(pot_dir: Path, course: Path = REPO) -> None:
    """One template per assignment, `exercises/<assignment>.pot`, from the English release."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    for folder in sorted(p for p in (course / "exercises").iterdir() if p.is_dir()):
        catalog = Catalog(project="Deep Learning, Hands On: exercises", fuzzy=False)
        for path in release_notebooks(course, folder.name):
            for message, grade_id in messages(nbformat.read(path, as_version=4)):
                catalog.add(message, auto_comments=[f"{path.name}, cell {grade_id}"])
        target = pot_dir / DOMAIN / f"{folder.name}.pot"
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as f:
            write_po(f, catalog, width=76)


def release(assignments: list[str], languages: list[str], course: Path = REPO, locales: Path = REPO / "locales") -> int:
    """`exercises_<code>/<assignment>/` for every language, from `exercises/<assignment>/`."""
    assignments = assignments or sorted(p.name for p in (course / "exercises").iterdir() if p.is_dir())
    for assignment in assignments:
        if not release_notebooks(course, assignment):
            print(f"no release of {assignment} in {course / 'exercises'}: run `python -m instructor release` first",
                  file=sys.stderr)
            return 1
        for code in languages:
            translations = read_translations(locales / code / "LC_MESSAGES" / DOMAIN / f"{assignment}.po")
            source, target = course / "exercises" / assignment, course / f"exercises_{code}" / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target)  # data files too
            for path in release_notebooks(course, assignment):
                nbformat.write(translate(nbformat.read(path, as_version=4), translations), target / path.name)
            print(f"released {assignment} in {code} -> exercises_{code}/{assignment}/")
    return 0


def main() -> int:
    from book_i18n import translations as book_languages

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    extract_parser = commands.add_parser("extract", help="write the .pot templates of the exercises")
    extract_parser.add_argument("pot_dir", type=Path)
    release_parser = commands.add_parser("release", help="write exercises_<code>/ from exercises/ and locales/")
    release_parser.add_argument("assignments", nargs="*")
    release_parser.add_argument("--course", type=Path, default=REPO, help="the course folder (holding exercises/)")
    args = parser.parse_args()
    if args.command == "extract":
        extract(args.pot_dir.resolve())
        return 0
    return release(args.assignments, book_languages(), args.course.resolve())


if __name__ == "__main__":
    sys.exit(main())
