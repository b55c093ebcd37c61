"""Serve MathJax, mermaid and the ipywidgets renderer from the build, not from CDNs.

`tools/vendor_book_assets.py` puts them in `_vendor/`; this extension copies that folder into
the build's `_static/` and points Sphinx (math), sphinxcontrib-mermaid (diagrams) and myst-nb
(widgets) at the copies, so the book reads without internet, also when opened as files.

Opened as files (file://), a browser refuses to fetch ES modules, and sphinxcontrib-mermaid
loads mermaid with `import mermaid from "<url>"`. So a page with a diagram loads the classic
`mermaid.min.js` (which sets `globalThis.mermaid`), and an import map resolves that import to a
`data:` module that hands the global back: no module is ever fetched.
"""
import json
import sys
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinxcontrib.mermaid import mermaid as mermaid_node

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from vendor_book_assets import MERMAID_SHIM, VENDOR_DIR, is_current  # noqa: E402

MATHJAX = "mathjax/tex-mml-chtml.js"
MERMAID_CLASSIC = "mermaid/mermaid.min.js"
WIDGETS = ("widgets/require.js", "widgets/embed-amd.js")


def require_vendored_assets(app) -> None:
    # Only HTML pages load them: extracting the messages to translate (gettext) needs none.
    if app.builder.format == "html" and not is_current():
        raise ExtensionError(f"the book's JavaScript is not in {VENDOR_DIR}: run "
                             "`python tools/vendor_book_assets.py` before building the book")


def use_vendored_assets(app, config) -> None:
    # Added here, after Jupyter Book read _config.yml: it would add every .js file it finds in
    # a static folder named there to every page.
    config.html_static_path.append(str(VENDOR_DIR))
    config.mathjax_path = MATHJAX
    config.mermaid_use_local = MERMAID_SHIM
    # Paths relative to _static/; no CDN fallback for widget modules we do not ship.
    config.nb_ipywidgets_js = {path: {} for path in WIDGETS}


def load_mermaid_without_modules(app, pagename, templatename, context, doctree) -> None:
    # As sphinxcontrib-mermaid: pages without a doctree (search, index) get its script too.
    if doctree is not None and doctree.next_node(mermaid_node) is None:
        return
    # Both run before sphinxcontrib-mermaid's module script (priority 500), and mermaid.min.js
    # before RequireJS (widget pages), whose `define` would capture it as an AMD module.
    app.add_js_file(MERMAID_CLASSIC, priority=100)
    shim_url = context["pathto"](f"_static/{MERMAID_SHIM}", resource=True)
    imports = {f"./{shim_url}": "data:text/javascript,export default globalThis.mermaid;"}
    app.add_js_file(None, type="importmap", body=json.dumps({"imports": imports}), priority=101)


# html-manager loads its icon fonts from beside the module RequireJS thinks it came from, by
# default `<page folder>/@jupyter-widgets/html-manager/dist/`: a RequireJS configuration (a
# global `require` object read when require.js loads) points that at the vendored folder. It
# also typesets widget labels with MathJax 2's `MathJax.Hub`, which MathJax 3 lacks.
WIDGET_FIXES = """
var require = {paths: {"@jupyter-widgets/html-manager/dist": new URL("%s", document.baseURI).href}};
document.addEventListener("DOMContentLoaded", () => {
  if (window.MathJax && !MathJax.Hub) {
    MathJax.Hub = {Queue: ([, , element]) => MathJax.typesetPromise?.([element])};
  }
});
"""


def fix_widget_renderer(app, pagename, templatename, context, doctree) -> None:
    if not any((script.filename or "").endswith(WIDGETS[-1]) for script in context["script_files"]):
        return
    widgets_url = context["pathto"](f"_static/{Path(WIDGETS[-1]).parent}", resource=True)
    app.add_js_file(None, body=WIDGET_FIXES % widgets_url, priority=499)


def setup(app):
    # After Jupyter Book's own config-inited handlers; before sphinxcontrib-mermaid's page hook.
    app.connect("config-inited", use_vendored_assets, priority=900)
    app.connect("builder-inited", require_vendored_assets)
    app.connect("html-page-context", load_mermaid_without_modules, priority=600)
    app.connect("html-page-context", fix_widget_renderer, priority=600)  # after myst-nb's
    return {"parallel_read_safe": True, "parallel_write_safe": True}
