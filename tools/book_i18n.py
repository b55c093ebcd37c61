"""The book's translations: Sphinx's gettext catalogs in `locales/`, and each translated edition.

    python tools/book_i18n.py build [--warningiserror] [--nitpick] [--all]  # _build/html/<code>/
    python tools/book_i18n.py update                                  # `make translations`
    python tools/book_i18n.py status                                  # what is left to translate
    python tools/book_i18n.py extract DIR                             # only the .pot templates, into DIR

`build` renders every language of `locales/languages.yml` other than English from the same
sources, `_config.yml` and execution cache as `jupyter-book build` (it calls the function that
command calls, with Sphinx's `language` set): it executes no notebook, and stops if one is not in
the cache (`tools/execute_chapters.py` fills it). Messages without a translation stay English.

`update` extracts every page's messages (`sphinx-build -b gettext`: headings, paragraphs,
admonitions, captions, table cells; not code, not outputs) and every exercise's instructions
(tools/exercise_i18n.py) into `_build/gettext/`, then merges them into
`locales/<code>/LC_MESSAGES/<page>.po` and `.../exercises/<assignment>.po` with sphinx-intl: a
new message arrives empty, a changed one arrives fuzzy with the old translation as its starting
point.
"""
import argparse
import csv
import re
import sys
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LOCALES = REPO / "locales"
LANGUAGES_FILE = LOCALES / "languages.yml"
SOURCE_LANGUAGE = "en"
BUILD = REPO / "_build"
CACHE = BUILD / ".jupyter_cache"  # the cache `jupyter-book build` reads (tools/execute_chapters.py)
POT_DIR = BUILD / "gettext"
GLOSSARY = REPO / "chapters" / "glossary.csv"


@lru_cache(1)
def read_languages() -> dict[str, dict]:
    """The editions of `locales/languages.yml`, the source language first."""
    languages = yaml.safe_load(LANGUAGES_FILE.read_text(encoding="utf-8"))
    if SOURCE_LANGUAGE not in languages:
        raise ValueError(f"{LANGUAGES_FILE}: no entry for the source language {SOURCE_LANGUAGE!r}")
    for code, language in languages.items():
        missing = {"name", "html_lang", "switch"} - set(language)
        if missing:
            raise ValueError(f"{LANGUAGES_FILE}: {code} lacks {', '.join(sorted(missing))}")
    return languages


def translations() -> list[str]:
    """The codes of the translated editions (`zh_CN`)."""
    return [code for code in read_languages() if code != SOURCE_LANGUAGE]


def catalog(language: str, page: str) -> Path:
    """The message catalog of one page (`chapters/01_foundations`) in one language."""
    return LOCALES / language / "LC_MESSAGES" / f"{page}.po"


def glossary() -> list[dict]:
    """The rows of `chapters/glossary.csv` (the single source of the book's terms)."""
    with GLOSSARY.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def split_terms(text: str) -> list[str]:
    return [term.strip() for term in re.split(r"[;；|、]", text) if term.strip()]


def chinese_terms(row: dict) -> tuple[list[str], list[str]]:
    """A glossary row's Chinese: (the terms, what its parentheses add).

    `精确率（查准率）` is the term 精确率 and the synonym 查准率, `暂退法、丢弃法（Dropout）` two
    terms and the English name, `logit（未归一化的得分）` a term and a gloss. A column of accepted
    variants (any column whose name contains "variant") adds terms.
    """
    chinese = row["chinese"]
    notes = re.findall(r"（([^）]*)）|\(([^)]*)\)", chinese)
    terms = split_terms(re.sub(r"（[^）]*）|\([^)]*\)", "", chinese))
    for column, value in row.items():
        if column and "variant" in column.lower() and value:
            terms += split_terms(value)
    return terms, [note for pair in notes for note in pair if note]


def search_words(path: Path) -> Path:
    """A jieba dictionary of the glossary's Chinese terms, one a line.

    Sphinx splits Chinese text into words with jieba to index it; a term jieba does not know,
    such as 反向传播, it splits in two, and the search box (which looks the query up whole) would
    not find it.
    """
    words = sorted({term for row in glossary() for term in chinese_terms(row)[0]
                    if re.search(r"[\u4e00-\u9fff]", term) and " " not in term})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{word}\n" for word in words), encoding="utf-8")
    return path


def sphinx(builder: str, outdir: Path, doctreedir: Path, overrides: dict, *, warningiserror=False,
           nitpick=False, fresh=False) -> int:
    """`jupyter-book build` with another builder, output folder or configuration values."""
    from jupyter_book.sphinx import build_sphinx

    overrides = {"external_toc_path": str(REPO / "_toc.yml"), "latex_individualpages": False,
                 **({"nitpicky": True} if nitpick else {}), **overrides}
    result = build_sphinx(REPO, outdir, noconfig=True, path_config=str(REPO / "_config.yml"),
                          confoverrides=overrides, doctreedir=doctreedir, builder=builder,
                          warningiserror=warningiserror, keep_going=True, freshenv=fresh)
    if isinstance(result, Exception):  # build_sphinx has printed it
        return 1
    return result


def uncached_notebooks() -> list[str]:
    """The book's notebooks whose current code has no run in the execution cache (leaving out
    those `execute: exclude_patterns` in _config.yml keeps from running)."""
    from fnmatch import fnmatch

    import nbformat
    from execute_chapters import book_notebooks, shown
    from jupyter_cache import get_cache

    cache = get_cache(str(CACHE))
    excluded = yaml.safe_load((REPO / "_config.yml").read_text())["execute"].get("exclude_patterns") or []
    missing = []
    for path in book_notebooks():
        if any(fnmatch(shown(path), pattern) for pattern in excluded):
            continue
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
        except KeyError:
            missing.append(shown(path))
    return missing


def build(warningiserror: bool, nitpick: bool, fresh: bool = False) -> int:
    missing = uncached_notebooks()
    if missing:
        print(f"not in the execution cache (run tools/execute_chapters.py first): {', '.join(missing)}",
              file=sys.stderr)
        return 1
    for code in translations():
        language = read_languages()[code]
        overrides = {"language": code, "nb_execution_cache_path": str(CACHE)}
        if "title" in language:
            overrides["html_title"] = language["title"]
        if code.startswith("zh"):
            overrides["html_search_options"] = {"dict": str(search_words(BUILD / code / "search_words.txt"))}
        status = sphinx("html", BUILD / "html" / code, BUILD / code / ".doctrees", overrides,
                        warningiserror=warningiserror, nitpick=nitpick, fresh=fresh)
        if status:
            return status
    return 0


def extract(pot_dir: Path) -> int:
    """Every page's messages, as `<page>.pot` under `pot_dir` (notebooks are read, not run: their
    outputs are never translated), and every exercise's, as `exercises/<assignment>.pot`."""
    from execute_chapters import toc_files
    from exercise_i18n import extract as extract_exercises

    for old in pot_dir.rglob("*.pot"):  # a template left from a page that is gone would live on
        old.unlink()
    # Without outputs the glued values are missing (the messages hold only their placeholders).
    suppressed = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"].get("suppress_warnings", [])
    status = sphinx("gettext", pot_dir, pot_dir / ".doctrees",
                    {"nb_execution_mode": "off", "suppress_warnings": [*suppressed, "mystnb.glue"]})
    if status:
        return status
    # Only the book's pages: Sphinx also writes templates for stray documents it came across.
    pages = set(toc_files())
    for template in pot_dir.rglob("*.pot"):
        if str(template.relative_to(pot_dir).with_suffix("")) not in pages:
            template.unlink()
    extract_exercises(pot_dir)
    return 0


def update() -> int:
    from sphinx_intl.basic import update as merge_catalogs

    status = extract(POT_DIR)
    if status:
        return status
    merge_catalogs(str(LOCALES), str(POT_DIR), tuple(translations()))
    for path in LOCALES.rglob("*.po"):
        tidy_format_flags(path)
    return 0


FORMAT_FLAGS = ("python-format", "python-brace-format")


def tidy_format_flags(path: Path) -> None:
    """Mark every message as no Python format string.

    Babel flags a message `python-format` when it sees "20% of" (a `% o` conversion) and
    `python-brace-format` for `{glue:text}`; `msgfmt -c`, Poedit and translation platforms then
    demand the same conversions in the Chinese and reject the catalog. None of the book's
    messages is a format string, so each such flag becomes its `no-` form.
    """
    def tidy(line: str) -> str:
        flags = [flag.strip() for flag in line[2:].split(",")]
        flags = [f"no-{flag}" if flag in FORMAT_FLAGS else flag for flag in flags]
        return "#, " + ", ".join(dict.fromkeys(flags))  # in order, without repeats

    text = path.read_text(encoding="utf-8")
    tidied = "\n".join(tidy(line) if line.startswith("#, ") else line for line in text.split("\n"))
    if tidied != text:
        path.write_text(tidied, encoding="utf-8")


def status() -> int:
    """Per catalog: messages with words to translate, how many are done, fuzzy, left."""
    from babel.messages.pofile import read_po
    from exercise_i18n import has_words

    languages = read_languages()
    for code in translations():
        folder = LOCALES / code / "LC_MESSAGES"
        print(f"{code}: {'catalog':<40} {'messages':>8} {'done':>5} {'fuzzy':>5} {'left':>5}  listed as translated")
        totals = [0, 0, 0]
        for path in sorted(folder.rglob("*.po")):
            page = str(path.relative_to(folder).with_suffix(""))
            with path.open("rb") as f:
                messages = [m for m in read_po(f) if m.id and has_words(m.id)]
            done = sum(1 for m in messages if m.string and not m.fuzzy)
            fuzzy = sum(1 for m in messages if m.string and m.fuzzy)
            totals = [totals[0] + len(messages), totals[1] + done, totals[2] + fuzzy]
            listed = "yes" if page in languages[code].get("translated", []) else ""
            print(f"  {page:<44} {len(messages):>8} {done:>5} {fuzzy:>5} {len(messages) - done:>5}  {listed}")
        print(f"  {'all':<44} {totals[0]:>8} {totals[1]:>5} {totals[2]:>5} {totals[0] - totals[1]:>5}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build every translated edition into _build/html/<code>/")
    build_parser.add_argument("--warningiserror", action="store_true", help="fail on any warning")
    build_parser.add_argument("--nitpick", action="store_true", help="warn about every missing reference")
    build_parser.add_argument("--all", action="store_true", help="read every page again (as jupyter-book --all)")
    commands.add_parser("update", help="extract the messages and merge them into locales/")
    commands.add_parser("status", help="how much of each catalog is translated")
    extract_parser = commands.add_parser("extract", help="only extract the messages (.pot files)")
    extract_parser.add_argument("pot_dir", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        return build(args.warningiserror, args.nitpick, args.all)
    if args.command == "update":
        return update()
    if args.command == "status":
        return status()
    return extract(args.pot_dir.resolve())


if __name__ == "__main__":
    sys.exit(main())
