"""Every chapter executes, the book builds with warnings treated as errors, and its pages show
what a reader needs: rendered math, figures, the source of utils, the bibliography."""
import html as html_lib
import re

import pytest

from .book_build import CHAPTERS, REPO, toc_files


def visible_text(page: str) -> str:
    """The page as a reader sees it: tags (e.g. syntax highlighting's spans) removed."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("notebook", CHAPTERS)
def test_chapter_executes_without_error(chapter_runs, notebook):
    """Each chapter runs top to bottom (or is unchanged since a run that did); a failure names the cell."""
    run = chapter_runs[notebook]
    assert run["status"] in ("executed", "cached"), run["error"]


def test_every_toc_entry_became_a_page(book_html):
    for file in toc_files():
        assert (book_html / f"{file}.html").exists(), file
    assert (book_html / "index.html").exists()


def test_chapter_pages_show_math_figures_code_and_citations(book_html):
    for file in toc_files():
        if not (REPO / f"{file}.ipynb").exists():
            continue
        page = (book_html / f"{file}.html").read_text()
        assert "Traceback" not in page, f"{file}: an error is shown on the page"
        assert "mathjax" in page.lower() and ("\\(" in page or "\\[" in page), f"{file}: no math"
        assert '<img alt="../_images/' in page or 'src="../_images/' in page, f"{file}: no figure"
        assert 'class="highlight-python' in page, f"{file}: no code shown"
        if "{cite" in (REPO / f"{file}.ipynb").read_text():
            assert 'href="bibliography.html#' in page, f"{file}: cites references, but no citation links to them"
    foundations = (book_html / "chapters" / "01_foundations.html").read_text()
    assert "class Linear(nn.Module)" in visible_text(foundations)  # literalinclude of utils/layers.py
    assert "The notes" in foundations and re.search(r'class="(warning admonition|admonition warning)"', foundations)
    assert 'class="mermaid"' in foundations


def test_download_button_and_bibliography(book_html):
    """(The launch buttons follow `repository.url`: tests/test_launch.py.)"""
    page = (book_html / "chapters" / "01_foundations.html").read_text()
    assert 'href="../_sources/chapters/01_foundations.ipynb"' in page  # the download button's notebook
    bibliography = (book_html / "chapters" / "bibliography.html").read_text()
    assert "Rumelhart" in bibliography and "Learning representations by back-propagating errors" in bibliography
    assert 'href="bibliography.html#id' in page  # citations link to their entries


# ---- The Chinese edition (issue 29): _build/html/zh_CN/, rendered from the same runs ----------

ZH = "zh_CN"
SWITCHER = re.compile(r'class="btn btn-sm book-language-link" href="([^"]+)"')
PRE = re.compile(r'<div class="highlight"><pre>(.*?)</pre>', re.S)


def search_index(folder) -> dict:
    import json

    text = (folder / "searchindex.js").read_text()
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def test_chinese_edition_has_every_page_in_chinese(book_html):
    for file in toc_files():
        english, chinese = (book_html / f"{file}.html").read_text(), (book_html / ZH / f"{file}.html").read_text()
        assert '<html lang="en"' in english, file
        assert '<html lang="zh-CN"' in chinese, f"{file}: the Chinese page is not marked lang=zh-CN"
    preface = (book_html / ZH / "chapters" / "00_preface.html").read_text()
    assert "<h1>深度学习实战" in preface and "如何阅读" in preface  # the translated preface
    assert "基础" in preface and "附录" in preface  # the table of contents' captions
    assert 'placeholder="搜索本书……"' in preface  # the search box
    assert 'title="全屏模式"' in preface  # a label translated by the theme itself
    chapter = (book_html / ZH / "chapters" / "02_backprop_optimization.html").read_text()
    assert "<h1>2. 反向传播与优化" in chapter, "a numbered title (Markdown reads '2. x' as a list): write '2\\. x'"
    glossary = (book_html / ZH / "chapters" / "glossary.html").read_text()
    assert "定义所在章节" in glossary and "Defined in" not in glossary  # the table's own headers
    assert "Defined in" in (book_html / "chapters" / "glossary.html").read_text()


def test_language_switcher_leads_to_the_same_page(book_html):
    for file in [*toc_files(), "search", "genindex"]:
        for here, there in [(book_html, book_html / ZH), (book_html / ZH, book_html)]:
            page = here / f"{file}.html"
            links = SWITCHER.findall(page.read_text())
            assert len(links) == 1, f"{page.relative_to(book_html)}: {len(links)} language links"
            assert not links[0].startswith(("/", "http")), f"{page}: the link is not relative"
            assert (page.parent / links[0]).resolve() == (there / f"{file}.html").resolve(), (page, links[0])


def test_chinese_pages_keep_the_code_and_outputs_of_the_english(book_html):
    """One execution serves both editions: each chapter's code and printed outputs are the same."""
    for file in toc_files():
        if not (REPO / f"{file}.ipynb").exists():
            continue
        english, chinese = (book_html / f"{file}.html").read_text(), (book_html / ZH / f"{file}.html").read_text()
        assert PRE.findall(english) == PRE.findall(chinese), f"{file}: code or outputs differ between the editions"
        assert english.count('class="cell_output') == chinese.count('class="cell_output') > 0, file
        assert "Traceback" not in chinese, file


PASTED = re.compile(r'<span class="pasted-text">(.*?)</span>', re.S)


def test_glued_text_is_numbers_or_names_not_english_sentences(book_html):
    """A glued value appears as it is in both editions: a phrase of English words in it (a verdict
    built by the run) would stay English in the Chinese page. Glue the numbers; write the words."""
    phrase = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")
    problems = [f"{file}: {text[:80]!r}" for file in toc_files()
                for text in PASTED.findall((book_html / ZH / f"{file}.html").read_text())
                if phrase.search(html_lib.unescape(re.sub(r"<[^>]+>", "", text)))]
    assert not problems, "glued English phrases:\n  " + "\n  ".join(problems)


def test_chinese_search_index_holds_whole_terms(book_html):
    """Sphinx splits Chinese into words with jieba; the glossary's terms are kept whole."""
    import yaml

    index = search_index(book_html / ZH)
    found = set()
    for kind in ("terms", "titleterms"):  # a page whose headings have the word is under titleterms
        hits = index[kind].get("反向传播", [])  # a document number, or a list of them
        found |= {index["docnames"][i] for i in (hits if isinstance(hits, list) else [hits])}
    assert "chapters/00_preface" in found, found
    translated = yaml.safe_load((REPO / "locales" / "languages.yml").read_text())[ZH].get("translated", [])
    if "chapters/02_backprop_optimization" in translated:
        assert "chapters/02_backprop_optimization" in found, found
