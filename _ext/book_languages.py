"""The book's editions side by side: a link to the same page in the other languages on every page.

`locales/languages.yml` lists the editions. The English book is `_build/html/`; a translation is
a copy of the whole book in `_build/html/<code>/`, built from the same sources and execution
cache with Sphinx's `language` set (`tools/book_i18n.py build`). So page `chapters/x` of edition
`zh_CN` is `zh_CN/chapters/x.html`, and every page links to its twins with a relative address,
which works offline and opened as files; the switcher is plain HTML, no script.

More that a translated edition needs, done here so that both editions share one configuration:
- `<html lang="zh-CN">`: the theme writes Sphinx's `language` there (`zh_CN`, not a language tag);
- the captions of `_toc.yml`'s parts translated (Sphinx's own translation runs too early for them);
- Chinese search indexed in linear time (see `SearchChinese`);
- myst-nb writes notebook outputs (images) to `jupyter_execute/` beside the output folder, which
  for a translation is inside the English book: they go beside its doctrees instead.
"""
import sys
from os import path
from pathlib import Path

from sphinx import addnodes
from sphinx.locale import init as init_locale
from sphinx.search import zh
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from book_i18n import SOURCE_LANGUAGE, read_languages  # noqa: E402

TEMPLATE = "language-switcher.html"


def edition(config) -> str:
    """The language of the edition being built: Sphinx's `language` (`en` when unset)."""
    return config.language or SOURCE_LANGUAGE


def add_templates(app, config) -> None:
    config.templates_path.append(str(Path(__file__).with_name("templates")))


def move_notebook_outputs(app) -> None:
    """myst-nb's output folder beside the doctrees (`_build/jupyter_execute` for English, as before)."""
    output_folder = Path(app.doctreedir).parent / "jupyter_execute"
    app.env.mystnb_config = app.env.mystnb_config.copy(output_folder=str(output_folder.resolve()))


def edition_prefix(language: str) -> str:
    """Where an edition lives, relative to the English book's root."""
    return "" if language == SOURCE_LANGUAGE else f"{language}/"


def language_links(app, pagename: str) -> list[dict]:
    """The same page in every other edition: relative address, name, language tag, tooltip."""
    languages = read_languages()
    current = edition(app.config)
    depth = pagename.count("/") + (0 if current == SOURCE_LANGUAGE else 1)
    to_root = "../" * depth
    return [{"url": f"{to_root}{edition_prefix(code)}{pagename}{app.builder.out_suffix}",
             "name": language["name"], "lang": language["html_lang"], "title": language["switch"]}
            for code, language in languages.items() if code != current]


def add_switcher(app, pagename, templatename, context, doctree) -> None:
    if app.builder.format != "html":
        return
    links = language_links(app, pagename)
    language = read_languages()[edition(app.config)]
    context["book_language_links"] = links
    context["language"] = language["html_lang"]
    if "search_bar_text" in language:  # Jupyter Book sets an English one for every edition
        context["theme_search_bar_text"] = language["search_bar_text"]
    # Before the theme turns this option into a list of templates (html-page-context, priority 500).
    header_end = context.get("theme_article_header_end") or []
    if isinstance(header_end, str):
        header_end = [name.strip() for name in header_end.split(",") if name.strip()]
    if TEMPLATE not in header_end:
        context["theme_article_header_end"] = [TEMPLATE, *header_end]
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{link["lang"]}" href="{link["url"]}" />' for link in links)


class TranslateTocCaptions(SphinxTransform):
    """The captions of the table of contents' parts ("Foundations"), in the page's language.

    Sphinx translates a toctree's caption with the rest of the page (its Locale transform,
    priority 20), but sphinx-external-toc inserts the toctrees of `_toc.yml` later (priority
    100): the messages are extracted, never applied. This applies them, as Sphinx would.
    """

    default_priority = 101

    def apply(self, **kwargs) -> None:
        if edition(self.config) == SOURCE_LANGUAGE:
            return
        dirs = [path.join(self.env.srcdir, directory) for directory in self.config.locale_dirs]
        domain = docname_to_domain(self.env.docname, self.config.gettext_compact)
        catalog, has_catalog = init_locale(dirs, self.config.language, domain)
        if not has_catalog:
            return
        for toctree in self.document.findall(addnodes.toctree):
            for message in toctree.extract_original_messages():
                translated = catalog.gettext(message)
                if translated != message:
                    toctree.apply_translated_message(message, translated)


class _WordSet(set):
    extend = set.update


class SearchChinese(zh.SearchChinese):
    """Sphinx's Chinese search index, with the Latin words it has met in a set.

    Sphinx 7 keeps them in a list (one for the whole process) and looks up every word it stems
    in it: quadratic, half of the Chinese edition's build time. A set answers at once.
    """

    def init(self, options) -> None:
        super().init(options)
        self.latin_terms = _WordSet()


def check_edition(app, config) -> None:
    languages = read_languages()
    if edition(config) not in languages:
        from sphinx.errors import ConfigError
        raise ConfigError(f"language {edition(config)!r} is not an edition in locales/languages.yml "
                          f"(editions: {', '.join(languages)})")


class KeepsNotebookRenderer(dict):
    """A document's attributes that hand myst-nb's notebook renderer to the environment when
    myst-nb drops it at the end of the page's parse (see ``keep_glue_for_translations``)."""

    def __init__(self, attributes: dict, env) -> None:
        super().__init__(attributes)
        self.env = env

    def pop(self, key, *default):
        value = super().pop(key, *default)
        if key == "nb_renderer":
            self.env.temp_data["nb_renderer"] = value
        return value


def keep_glue_for_translations(parse):
    """myst-nb's notebook parser, keeping the page's renderer for its translated messages.

    Sphinx parses each translated message as a small document of its own, after the page, with
    the plain MyST parser: it has no notebook renderer and so no glue data, and every
    ``{glue:text}`` in a translation would be missing. The page's renderer, which holds the
    notebook's glue data, stays in ``env.temp_data`` (cleared after each page) for them.
    """
    def parse_notebook(self, inputstring, document):
        env = document.settings.env
        document.attributes = KeepsNotebookRenderer(document.attributes, env)
        try:
            parse(self, inputstring, document)
        finally:
            document.attributes = dict(document.attributes)
    parse_notebook.keeps_glue = True
    return parse_notebook


def glue_from_the_page(retrieve):
    """myst-nb's ``retrieve_glue_data``, for a translated message: with its page's renderer."""
    def retrieve_glue_data(document, key):
        renderer = document.settings.env.temp_data.get("nb_renderer")
        if "nb_renderer" in document or renderer is None:
            return retrieve(document, key)
        document["nb_renderer"] = renderer
        try:
            return retrieve(document, key)
        finally:  # the message's document is pickled with the page: no renderer left in it
            del document["nb_renderer"]
    return retrieve_glue_data


def setup(app):
    from myst_nb import sphinx_
    from myst_nb.ext.glue import directives, roles, utils

    if not hasattr(sphinx_.Parser.parse, "keeps_glue"):  # once per process, however many builds
        sphinx_.Parser.parse = keep_glue_for_translations(sphinx_.Parser.parse)
        roles.retrieve_glue_data = directives.retrieve_glue_data = glue_from_the_page(utils.retrieve_glue_data)
    app.connect("config-inited", add_templates)
    app.connect("config-inited", check_edition)
    app.connect("builder-inited", move_notebook_outputs, priority=900)  # after myst-nb sets it
    app.connect("html-page-context", add_switcher, priority=400)
    app.add_transform(TranslateTocCaptions)
    if isinstance(zh.SearchChinese.latin_terms, list):  # the slow lookup (Sphinx 7)
        app.add_search_language(SearchChinese)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
