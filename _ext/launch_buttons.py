"""The repository and launch buttons follow one setting: `repository.url` in `_config.yml`.

Set (``https://github.com/OWNER/REPO``), every page gets the repository, issue and edit buttons,
and each chapter the launch buttons whose address `launch_buttons` gives (Binder, Colab, and
JupyterHub when `jupyterhub_url` is set), all built from that URL by the theme. Unset (``""``),
none of them is shown: the theme would otherwise build launch links from no repository (or stop
the build), and a page would link to nothing. `tools/set_repository.py` sets it.
"""
import re

from sphinx.errors import ConfigError

REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button")
GITHUB_REPOSITORY = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")


def follow_repository(app, config) -> None:
    options = config.html_theme_options
    url = (options.get("repository_url") or "").strip()
    if url and not GITHUB_REPOSITORY.fullmatch(url):
        raise ConfigError(f"repository.url in _config.yml: expected the course's repository on GitHub, "
                          f"https://github.com/OWNER/REPO (Colab opens notebooks from GitHub only), got {url!r}; "
                          'or "" for no repository and launch buttons')
    options["repository_url"] = url
    options.update(dict.fromkeys(REPOSITORY_BUTTONS, bool(url)))
    if not url:
        options.pop("launch_buttons", None)  # every launch link is built from the repository


def setup(app):
    app.connect("config-inited", follow_repository)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
