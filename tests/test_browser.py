"""The book and JupyterLab in a real browser (Chromium driven by Playwright).

The book, served over HTTP and opened as files, with every request that would leave the machine
blocked (so it also reads offline): each page loads without script errors or failed requests,
its formulas are typeset, its diagrams drawn, its images loaded and its citations lead to the
bibliography; the search page finds a term. The same for every page of the Chinese edition
(_build/html/zh_CN/), whose Chinese text must be drawn with real glyphs, not missing-glyph boxes
(Debian: fonts-noto-cjk); the language switcher leads from every page to its twin and back, and
the Chinese search finds a term inside a sentence. A screenshot of each page goes to
_build/screenshots/.

JupyterLab, in a throwaway copy of the course: the nbgrader extension's Validate button fails
the released exercise and passes it with the solutions filled in; Formgrader lists the
assignments; a chapter's widget renders and redraws when its slider moves.

Run them alone with `pytest -m browser`; they need Chromium (`apt-get install chromium`) and
Playwright (`pip install playwright`, in the `dev` extra), and are skipped without them unless
the environment variable CI is set.
"""
import re
import shutil
from pathlib import Path

import nbformat
import pytest
import yaml

from .browser_helpers import PageLog, jupyter_lab, launch_chromium, missing, static_server
from .exercise_helpers import REPO, make_course, solved

pytestmark = pytest.mark.browser

SEARCH_TERM = "backpropagation"
EXERCISE = "ex01_foundations"  # the quickest to run and validate
WIDGET_CHAPTER, WIDGET_CELL = "chapters/01_foundations.ipynb", "activation_explorer()"


def toc_pages(entry) -> list[str]:
    """Every document of the table of contents, in reading order."""
    pages = [entry["file"]] if "file" in entry else []
    for key in ("parts", "chapters", "sections"):
        for child in entry.get(key, []):
            pages += toc_pages(child)
    return pages


TOC = yaml.safe_load((REPO / "_toc.yml").read_text())
PAGES = toc_pages({"file": TOC["root"], **TOC})


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


# ---- The book ------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["http", "file"])
def book(request, browser, book_html):
    """A browser tab on the built book, served over HTTP or opened as files; yields
    (base URL, tab, log of the tab's problems)."""
    with static_server(book_html) as http_base:
        base = http_base if request.param == "http" else book_html.as_uri() + "/"
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)
        log = PageLog(context, local_base=http_base)
        yield request.param, base, context.new_page(), log
        context.close()


WAIT_FOR_MATH = "() => !document.querySelector('.math') || window.MathJax?.startup?.promise"
WAIT_FOR_DIAGRAMS = """() => [...document.querySelectorAll('.mermaid')].every(
    d => d.querySelector('svg') || d.hasAttribute('data-mermaid-deferred'))"""
WAIT_FOR_IMAGES = "() => [...document.images].every(image => image.complete)"

# What is wrong with the rendered page, as a list of sentences.
PAGE_PROBLEMS = r"""() => {
    const problems = [];
    const show = (node) => JSON.stringify(node.textContent.trim().slice(0, 80));
    const raw = [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container'));
    if (raw.length) problems.push(`${raw.length} formula(s) not typeset, e.g. ${show(raw[0])}`);
    const bad = document.querySelectorAll('mjx-merror');
    if (bad.length) problems.push(`${bad.length} formula(s) with TeX errors, e.g. ${show(bad[0])}`);
    // LaTeX left in the prose (outside code) means MathJax never saw it.
    const article = document.querySelector('article') || document.body;
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
        if (node.parentElement.closest('pre, code, script, style, mjx-container, .math')) continue;
        if (/\$\$|\\\(|\\\[|\\frac\{/.test(node.textContent)) {
            problems.push(`raw LaTeX in the text: ${show(node)}`);
            break;
        }
    }
    for (const diagram of document.querySelectorAll('.mermaid:not([data-mermaid-deferred])')) {
        const svg = diagram.querySelector('svg');
        if (!svg) problems.push(`diagram not rendered: ${show(diagram)}`);
        else if (svg.getAttribute('aria-roledescription') === 'error') problems.push('diagram with a syntax error');
    }
    for (const image of document.images) {
        if (!(image.complete && image.naturalWidth > 0)) problems.push(`image not loaded: ${image.src.slice(0, 120)}`);
    }
    return problems;
}"""

CITATION_LINKS = """() => [...document.querySelectorAll('a[href*="bibliography.html#"]')]
    .map(a => a.getAttribute('href').split('#')[1])"""


def source_of(page: str) -> Path:
    return next(REPO.glob(f"{page}.*"))


@pytest.mark.parametrize("page", PAGES)
def test_book_page(book, book_html, page):
    check_page(book, book_html, page, edition="")


def check_page(book, book_html, page: str, edition: str) -> None:
    """Open one page of an edition ("" for English, "zh_CN/" for Chinese) and list what is wrong."""
    mode, base, tab, log = book
    assert (book_html / f"{edition}{page}.html").exists(), f"{edition}{page}.html is missing from the built book"
    log.take()
    tab.goto(f"{base}{edition}{page}.html", wait_until="load")
    tab.wait_for_function(WAIT_FOR_MATH)
    tab.evaluate("() => window.MathJax?.startup?.promise")  # resolves once the page is typeset
    tab.wait_for_function(WAIT_FOR_DIAGRAMS)
    tab.wait_for_function(WAIT_FOR_IMAGES)
    problems = tab.evaluate(PAGE_PROBLEMS)

    if source_of(page).suffix == ".ipynb" and not tab.locator("mjx-container").count():
        problems.append("a chapter with no typeset formula")
    cited = tab.evaluate(CITATION_LINKS)
    if "{cite" in source_of(page).read_text() and not cited:
        problems.append("cites references, but no citation links to the bibliography")
    bibliography_ids = set(re.findall(r'id="([^"]+)"', (book_html / edition / "chapters" / "bibliography.html")
                                      .read_text()))
    problems += [f"citation links to a missing bibliography entry: #{ref}" for ref in cited
                 if ref not in bibliography_ids]

    if edition.startswith("zh"):
        problems += tab.evaluate(MISSING_GLYPHS)

    if mode == "http":
        shots = book_html.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        tab.screenshot(path=shots / f"{(edition + page).replace('/', '_')}.png", full_page=True)
    problems += log.take()
    assert not problems, f"{edition}{page}.html ({mode}):\n  " + "\n  ".join(problems)


def search(book, edition: str, term: str) -> list[str]:
    """The pages the search page of an edition lists for ``term`` (it fails on a page problem)."""
    mode, base, tab, log = book
    log.take()
    tab.goto(f"{base}{edition}search.html?q={term}", wait_until="load")
    results = tab.locator("#search-results ul.search li")
    results.first.wait_for()
    pages = results.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    # Sphinx fetches each found page for a summary under its link: wait for them all, so that
    # what they log is this test's, not the next one's.
    tab.wait_for_function("() => Search.status?.innerText")  # "Search finished": every result listed
    if mode == "http":
        tab.wait_for_function("() => [...document.querySelectorAll('#search-results ul.search li')]"
                              ".every(item => item.querySelector('.context'))")
    else:
        tab.wait_for_timeout(1000)  # refused at once from a file page
    problems = log.take()
    if mode == "file":  # Sphinx fetches each found page for a summary: refused from a file page
        problems = [p for p in problems if not re.search(r"CORS policy|net::ERR_FAILED|Failed to fetch", p)]
    assert not problems, f"{edition}search.html ({mode}):\n  " + "\n  ".join(problems)
    return pages


def test_search_finds_a_term(book):
    pages = search(book, "", SEARCH_TERM)
    assert any("chapters/" in href for href in pages), f"search for {SEARCH_TERM!r} ({book[0]}) found {pages}"


# ---- The Chinese edition (_build/html/zh_CN/) -------------------------------------------------

ZH = "zh_CN/"
ZH_SEARCH_TERM = "反向传播"  # backpropagation: inside a sentence, found only when jieba splits the text

# Chinese characters of the page drawn with its own font, compared with a character no font has
# (U+10FFFD, private use): the same bitmap means a missing-glyph box. Without CJK fonts
# (fonts-noto-cjk), every character draws that box.
MISSING_GLYPHS = r"""() => {
    // The page's own Chinese: the article where it is translated, else the title and contents.
    const chars = [...new Set(document.body.innerText.match(/[\u4e00-\u9fff]/g) || [])].slice(0, 12);
    if (!chars.length) return ['no Chinese text on the page'];
    const article = document.querySelector('article') || document.body;
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 48;
    const context = canvas.getContext('2d', {willReadFrequently: true});
    context.font = `32px ${getComputedStyle(article.querySelector('p') || article).fontFamily}`;
    const draw = (text) => {
        context.clearRect(0, 0, 48, 48);
        context.fillText(text, 4, 36);
        return context.getImageData(0, 0, 48, 48).data.join('');
    };
    const box = draw('\u{10FFFD}');
    const boxes = chars.filter(c => draw(c) === box);
    if (boxes.length || new Set(chars.map(draw)).size < chars.length) {
        return [`Chinese characters drawn as missing-glyph boxes: ${boxes.join('') || chars.join('')}`];
    }
    return [];
}"""


@pytest.mark.parametrize("page", PAGES)
def test_chinese_book_page(book, book_html, page):
    check_page(book, book_html, page, edition=ZH)


@pytest.mark.parametrize("page", PAGES)
def test_language_switcher_reaches_the_same_page(book, page):
    """From each page to its twin in the other language and back, by clicking the switcher."""
    mode, base, tab, log = book
    log.take()
    tab.goto(f"{base}{page}.html", wait_until="load")
    for edition, lang in [(ZH, "zh-CN"), ("", "en")]:
        tab.locator("a.book-language-link").first.click()
        tab.wait_for_url(f"{base}{edition}{page}.html")
        assert tab.evaluate("document.documentElement.lang") == lang
    problems = log.take()
    assert not problems, f"{page} ({mode}):\n  " + "\n  ".join(problems)


def test_chinese_search_finds_a_term(book):
    translated = yaml.safe_load((REPO / "locales" / "languages.yml").read_text())["zh_CN"].get("translated", [])
    expected = "chapters/02_backprop_optimization" if "chapters/02_backprop_optimization" in translated \
        else "chapters/00_preface"
    pages = search(book, ZH, ZH_SEARCH_TERM)
    assert any(expected in href for href in pages), f"search for {ZH_SEARCH_TERM!r} ({book[0]}) found {pages}"


# ---- JupyterLab ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser):
    """A JupyterLab tab on a throwaway course: the source assignments, their releases, one
    exercise with the solutions filled in (solved/), and the widget's chapter."""
    course = make_course(tmp_path_factory.mktemp("lab"))
    shutil.copytree(REPO / "exercises", course / "exercises")
    (course / "chapters").mkdir()
    shutil.copy2(REPO / WIDGET_CHAPTER, course / WIDGET_CHAPTER)
    release = course / "exercises" / EXERCISE / f"{EXERCISE}.ipynb"
    source = course / "solutions" / EXERCISE / f"{EXERCISE}.ipynb"
    (course / "solved" / EXERCISE).mkdir(parents=True)
    nbformat.write(solved(nbformat.read(release, 4), nbformat.read(source, 4)),
                   course / "solved" / EXERCISE / f"{EXERCISE}.ipynb")
    with jupyter_lab(course) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        log = PageLog(context, local_base=base)
        yield base, context.new_page(), log, course
        context.close()


def open_notebook(tab, base: str, path: str):
    """Open a notebook alone in a workspace of its own; wait until its kernel is idle."""
    tab.goto(f"{base}lab/workspaces/{re.sub(r'[^a-z0-9]+', '-', path)}/tree/{path}")
    tab.wait_for_function("""() => {
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        return panel !== null
            && panel.querySelector('.jp-Toolbar-kernelName')?.textContent.trim() !== 'No Kernel'
            && panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle';
    }""", timeout=120_000)
    return tab.locator(".jp-NotebookPanel:visible")


def menu(tab, menu_name: str, command: str) -> None:
    tab.locator(".lm-MenuBar-item", has_text=menu_name).first.click()
    tab.locator(f".lm-Menu-item[data-command='{command}']").click()


def validation_report(tab, base: str, path: str) -> str:
    """Open a notebook, run all its cells, press Validate; the report's text."""
    panel = open_notebook(tab, base, path)
    menu(tab, "Run", "runmenu:run-all")
    tab.wait_for_function("""() => {
        const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')]
            .map(p => p.textContent);
        return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'));
    }""", timeout=180_000)
    panel.locator(".validate-button").click()
    dialog = tab.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=240_000)
    report = dialog.locator(".jp-Dialog-body").inner_text()
    tab.keyboard.press("Escape")
    return report


def test_validate_fails_the_release(lab):
    base, tab, log, course = lab
    report = validation_report(tab, base, f"exercises/{EXERCISE}/{EXERCISE}.ipynb")
    assert "The following cell failed" in report and "NotImplementedError" in report, report


def test_validate_passes_the_solution(lab):
    base, tab, log, course = lab
    report = validation_report(tab, base, f"solved/{EXERCISE}/{EXERCISE}.ipynb")
    assert "Success! Your notebook passes all the tests." in report, report


def test_formgrader_lists_the_assignments(lab):
    base, tab, log, course = lab
    tab.goto(f"{base}lab/workspaces/formgrader")
    menu(tab, "Nbgrader", "nbgrader:open-formgrader")
    table = tab.frame_locator("iframe").locator("table.dataTable")
    table.locator("td.name").first.wait_for()
    table.evaluate("table => $(table).DataTable().page.len(-1).draw()")  # all rows on one page
    names = [name.strip() for name in table.locator("td.name").all_inner_texts()]
    expected = sorted(notebook.parent.name for notebook in (course / "solutions").glob("*/*.ipynb"))
    assert sorted(names) == expected, f"Formgrader lists {names}, expected {expected}"


def test_chapter_widget_responds(lab):
    base, tab, log, course = lab
    panel = open_notebook(tab, base, WIDGET_CHAPTER)
    # The imports: the first code cell that imports from utils (the Colab install cell comes before it)
    imports = panel.locator(".jp-CodeCell").filter(has=tab.locator(".cm-content", has_text="from utils import")).first
    imports.locator(".cm-content").click()
    tab.keyboard.press("Shift+Enter")
    widget_cell = panel.locator(".jp-CodeCell").filter(
        has=tab.locator(".cm-content", has_text=re.compile(rf"^{re.escape(WIDGET_CELL)}$")))
    widget_cell.scroll_into_view_if_needed()
    widget_cell.locator(".cm-content").click()
    tab.keyboard.press("Shift+Enter")
    plot = widget_cell.locator(".jp-OutputArea-output img").first
    plot.wait_for(timeout=120_000)
    before = plot.get_attribute("src")
    slider = widget_cell.locator(".widget-slider", has_text="weight").first
    slider.locator(".noUi-handle").focus()
    tab.keyboard.press("ArrowRight")
    tab.wait_for_function(
        "([cell, before]) => cell.querySelector('.jp-OutputArea-output img')?.getAttribute('src') !== before",
        arg=[widget_cell.element_handle(), before], timeout=60_000)
    assert "1.10" in slider.inner_text(), slider.inner_text()
