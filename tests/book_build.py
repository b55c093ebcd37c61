"""The book, built once per test run: chapters executed into Jupyter Book's cache (a few at a time,
only those whose code changed), then the HTML built from that cache with warnings as errors, the
English book in ``_build/html`` and each translation in ``_build/html/<language>/``.

Tests that need the built book take the ``book_html`` fixture; the root ``conftest.py`` sends them
all to one pytest-xdist worker, so the book is built once even when tests run in parallel.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from execute_chapters import REPORT, book_notebooks, toc_files  # noqa: E402,F401  (tools/ is not a package; toc_files is for test_book)

CHAPTERS = [str(path.relative_to(REPO)) for path in book_notebooks()]


@pytest.fixture(scope="session")
def chapter_runs() -> dict[str, dict]:
    """Each chapter notebook's execution record (status executed, cached or failed; times; error)."""
    REPORT.unlink(missing_ok=True)
    result = subprocess.run([sys.executable, str(REPO / "tools" / "execute_chapters.py")],
                            capture_output=True, text=True, timeout=3600)
    if not REPORT.exists():  # the script itself broke, not a notebook
        pytest.fail(f"tools/execute_chapters.py failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return {run["notebook"]: run for run in json.loads(REPORT.read_text())}


@pytest.fixture(scope="session")
def book_html(chapter_runs) -> Path:
    """The HTML book in ``_build/html``, every page re-read so no warning goes unseen."""
    failed = [name for name, run in chapter_runs.items() if run["status"] == "failed"]
    if failed:
        pytest.fail(f"the book was not built because these chapters failed to execute: {failed}")
    vendor = subprocess.run([sys.executable, str(REPO / "tools" / "vendor_book_assets.py")],
                            capture_output=True, text=True, timeout=600)
    assert vendor.returncode == 0, f"could not fetch the book's scripts:\n{vendor.stdout[-3000:]}{vendor.stderr[-3000:]}"
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(REPO), "--all", "--warningiserror", "--nitpick",
                             "--keep-going"], capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    # Every chapter came from the cache filled above: none was executed a second time.
    assert "Executing notebook" not in result.stdout, "the build executed a notebook the cache should have held"
    # The translations (the Chinese edition in _build/html/zh_CN/), rendered from the same cache.
    translated = subprocess.run([sys.executable, str(REPO / "tools" / "book_i18n.py"), "build", "--all",
                                 "--warningiserror", "--nitpick"], capture_output=True, text=True, timeout=3600)
    assert translated.returncode == 0, translated.stdout[-5000:] + translated.stderr[-5000:]
    assert "Executing notebook" not in translated.stdout, "the translated build executed a notebook"
    return REPO / "_build" / "html"
