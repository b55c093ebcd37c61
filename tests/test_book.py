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
    foundations = (book_html / "chapters" / "01_foundations.html").read_text()
    assert "class Linear(nn.Module)" in visible_text(foundations)  # literalinclude of utils/layers.py
    assert "The notes" in foundations and re.search(r'class="(warning admonition|admonition warning)"', foundations)
    assert 'class="mermaid"' in foundations


def test_launch_and_download_buttons_and_bibliography(book_html):
    page = (book_html / "chapters" / "01_foundations.html").read_text()
    for button in ("binder", "colab", "jupyterhub", "download"):
        assert button in page.lower(), button
    bibliography = (book_html / "chapters" / "bibliography.html").read_text()
    assert "Rumelhart" in bibliography and "Learning representations by back-propagating errors" in bibliography
    assert 'href="bibliography.html#id' in page  # citations link to their entries
