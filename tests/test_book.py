"""The book builds from a clean copy with warnings treated as errors, and its pages show
what a reader needs: rendered math, figures, the source of utils, the bibliography."""
import html as html_lib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".ipynb_checkpoints", "*.egg-info",
                              "submitted", "autograded", "feedback", "gradebook.db")


def visible_text(page: str) -> str:
    """The page as a reader sees it: tags (e.g. syntax highlighting's spans) removed."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", page))


def toc_files() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("book") / "course"
    shutil.copytree(REPO, copy, ignore=SKIP)
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(copy), "--warningiserror", "--nitpick", "--keep-going"],
                            capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return copy / "_build" / "html"


def test_every_toc_entry_became_a_page(html):
    for file in toc_files():
        assert (html / f"{file}.html").exists(), file
    assert (html / "index.html").exists()


def test_chapter_pages_show_math_figures_code_and_citations(html):
    for file in toc_files():
        if not (REPO / f"{file}.ipynb").exists():
            continue
        page = (html / f"{file}.html").read_text()
        assert "Traceback" not in page, f"{file}: an error is shown on the page"
        assert "mathjax" in page.lower() and ("\\(" in page or "\\[" in page), f"{file}: no math"
        assert '<img alt="../_images/' in page or 'src="../_images/' in page, f"{file}: no figure"
        assert 'class="highlight-python' in page, f"{file}: no code shown"
    foundations = (html / "chapters" / "01_foundations.html").read_text()
    assert "class Linear(nn.Module)" in visible_text(foundations)  # literalinclude of utils/layers.py
    assert "The notes" in foundations and re.search(r'class="(warning admonition|admonition warning)"', foundations)
    assert 'class="mermaid"' in foundations


def test_launch_and_download_buttons_and_bibliography(html):
    page = (html / "chapters" / "01_foundations.html").read_text()
    for button in ("binder", "colab", "jupyterhub", "download"):
        assert button in page.lower(), button
    bibliography = (html / "chapters" / "bibliography.html").read_text()
    assert "Rumelhart" in bibliography and "Learning representations by back-propagating errors" in bibliography
    assert 'href="bibliography.html#id' in page  # citations link to their entries
