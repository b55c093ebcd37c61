"""Set the course's public repository: the one setting behind its repository and launch buttons.

    python tools/set_repository.py https://github.com/OWNER/REPO [--hub https://hub.example]
    python tools/set_repository.py --unset
    python tools/set_repository.py --cells [NOTEBOOK ...]

The first two write `repository.url` (and `launch_buttons.jupyterhub_url`) in `_config.yml`,
where the book's buttons read it (`_ext/launch_buttons.py`), and then the Colab install cell of
every chapter. `--cells` only writes the install cells, from what `_config.yml` says now, into
the notebooks named (default: every chapter of `_toc.yml`): use it after adding a chapter.

The install cell is each chapter's first code cell (hidden in the book: tag `remove-cell`).
Colab opens a notebook from GitHub without the rest of the repository, so on Colab, and only
there (detected at run time, as d2l's notebooks do), the cell pip-installs the course from the
repository before the chapter's `import utils`; elsewhere it does nothing. A notebook whose code
cells change is executed again by the next `make book`.
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "_config.yml"
CELL_ID = "colab-install"
CELL_TAGS = ["remove-cell"]
PACKAGE = "dl-hands-on"  # pyproject.toml's project name
GITHUB_REPOSITORY = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")

INSTALL_CELL = '''\
import sys

COURSE_REPOSITORY = "{url}"  # written by tools/set_repository.py
if "google.colab" in sys.modules:  # Colab opens the notebook without the course: install it first
    if not COURSE_REPOSITORY:
        raise RuntimeError("this copy of the course does not name its repository (tools/set_repository.py): "
                           "install the course in this runtime first, pip install '{package} @ git+<its URL>'")
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    f"{package} @ git+{{COURSE_REPOSITORY}}@{branch}"], check=True)'''


def read_setting(config: Path = CONFIG) -> tuple[str, str]:
    """(`repository.url`, `repository.branch`) of `_config.yml`; the URL is "" when unset."""
    repository = yaml.safe_load(config.read_text())["repository"]
    return (repository.get("url") or "").strip(), repository.get("branch") or "main"


def install_cell_source(url: str, branch: str) -> str:
    return INSTALL_CELL.format(url=url, branch=branch, package=PACKAGE)


def write_install_cell(notebook: Path, url: str, branch: str) -> bool:
    """Make the notebook's first code cell the install cell for ``url``; True if the file changed."""
    nb = nbformat.read(notebook, as_version=4)
    cell = nbformat.v4.new_code_cell(install_cell_source(url, branch), id=CELL_ID, metadata={"tags": CELL_TAGS})
    ours = [i for i, c in enumerate(nb.cells) if c.get("id") == CELL_ID]
    if ours:
        nb.cells[ours[0]] = cell
    else:  # just before the chapter's own first code cell (its imports), after the introduction
        first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(first, cell)
    text = nbformat.writes(nb) + "\n"
    if notebook.read_text() == text:
        return False
    notebook.write_text(text)
    return True


def set_config(url: str, hub: str | None, config: Path = CONFIG) -> None:
    """Write `repository.url` (and `launch_buttons.jupyterhub_url`), keeping the file's comments."""
    text = config.read_text()
    values = {"repository": ("url", url)}
    if hub is not None:
        values["launch_buttons"] = ("jupyterhub_url", hub)
    for section, (key, value) in values.items():
        pattern = re.compile(rf"^({section}:\n(?:[ \t]+.*\n|[ \t]*\n)*?[ \t]+{key}:)[^\n]*$", re.M)
        text, found = pattern.subn(lambda m: f'{m.group(1)} "{value}"', text, count=1)
        if not found:
            raise SystemExit(f"{config}: no `{key}:` under `{section}:` to write")
    config.write_text(text)
    assert yaml.safe_load(text)["repository"]["url"] == url


def chapters() -> list[Path]:
    sys.path.insert(0, str(REPO / "tools"))
    from execute_chapters import book_notebooks
    return book_notebooks()


def checked_url(url: str, what: str, pattern: re.Pattern | None = None) -> str:
    url = url.strip().removesuffix("/").removesuffix(".git")
    if pattern is not None and not pattern.fullmatch(url):
        raise SystemExit(f"{what}: expected https://github.com/OWNER/REPO (Colab opens notebooks from GitHub), "
                         f"got {url!r}")
    if pattern is None and not url.startswith("https://"):
        raise SystemExit(f"{what}: expected an https:// address, got {url!r}")
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("url", nargs="?", help="the course's public repository, https://github.com/OWNER/REPO")
    what.add_argument("--unset", action="store_true", help="no repository: no repository or launch buttons")
    what.add_argument("--cells", nargs="*", type=Path, metavar="NOTEBOOK",
                      help="only write the install cells from _config.yml (default: every chapter)")
    parser.add_argument("--hub", help="a JupyterHub to launch chapters on ('' for none)")
    args = parser.parse_args(argv)

    if args.cells is None:
        url = "" if args.unset else checked_url(args.url, "the repository", GITHUB_REPOSITORY)
        hub = checked_url(args.hub, "--hub") if args.hub else args.hub
        set_config(url, hub)
        print(f"_config.yml: repository.url = {url!r}" + (f", launch_buttons.jupyterhub_url = {hub!r}" if hub is not None else ""))
    url, branch = read_setting()
    for notebook in args.cells or chapters():
        changed = write_install_cell(notebook, url, branch)
        print(f"{notebook.relative_to(REPO) if notebook.is_absolute() else notebook}: "
              f"{'install cell written' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
