"""Running and reading the course online: launch buttons, Colab, Binder, the published book, versions.

- One setting, `repository.url` in `_config.yml`, drives every repository and launch link
  (`_ext/launch_buttons.py`); unset, none is shown. A tiny book is built both ways.
- Each chapter's first code cell installs the course on Colab, and only there
  (`tools/set_repository.py` writes it); run here with Colab and pip faked.
- Binder's `environment.yml` installs the course itself; the CI workflow that publishes the book
  runs the README's `make book`; the declared PyTorch floor is the one `make test-lowest` tests.
"""
import re
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import set_repository  # noqa: E402
from execute_chapters import book_notebooks  # noqa: E402

URL = "https://github.com/someone/dl-course"
HUB = "https://hub.someuniversity.test"
# Hosts that only ever stand in for a real one, and the stand-in repository this book once named.
PLACEHOLDERS = re.compile(r"//[^/\"']*\bexample\.(com|org|net|edu)\b|jupyterhub\.example|github\.com/dl-hands-on/dl-hands-on")
LAUNCH_HOSTS = ("mybinder.org", "colab.research.google.com")


# ---- the Colab install cell -------------------------------------------------------------------

def run_install_cell(source: str, monkeypatch, on_colab: bool) -> list[list[str]]:
    """Run the cell's code as a kernel would, with Colab detected or not; return the commands it ran."""
    commands = []
    monkeypatch.setattr(subprocess, "run", lambda command, check: commands.append(command))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<install cell>", "exec"), {})
    return commands


def test_install_cell_installs_the_course_from_the_repository_on_colab_only(monkeypatch):
    source = set_repository.install_cell_source(URL, "main")
    assert run_install_cell(source, monkeypatch, on_colab=False) == []
    assert run_install_cell(source, monkeypatch, on_colab=True) == [
        [sys.executable, "-m", "pip", "install", "--quiet", f"dl-hands-on @ git+{URL}@main"]]


def test_install_cell_without_a_repository_stops_on_colab_and_says_why(monkeypatch):
    source = set_repository.install_cell_source("", "main")
    assert run_install_cell(source, monkeypatch, on_colab=False) == []
    with pytest.raises(RuntimeError, match="does not name its repository"):
        run_install_cell(source, monkeypatch, on_colab=True)


def test_install_cell_names_the_package_pyproject_builds():
    project = re.search(r'^name = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert set_repository.PACKAGE == project


@pytest.mark.parametrize("notebook", book_notebooks(), ids=lambda p: p.name)
def test_every_chapter_starts_with_the_install_cell_of_the_setting(notebook):
    url, branch = set_repository.read_setting()
    first = next(c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
    assert first.get("id") == set_repository.CELL_ID and first.source == set_repository.install_cell_source(url, branch), (
        f"{notebook.name}: the first code cell must be the install cell for {url or 'no repository'}: "
        f"run `python tools/set_repository.py --cells {notebook.relative_to(REPO)}`")
    assert "remove-cell" in first.metadata.get("tags", [])  # the book's reader does not need it


def test_install_cell_is_inserted_once_before_the_imports_and_rewritten_in_place(tmp_path):
    notebook = tmp_path / "chapter.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter"),
                                         nbformat.v4.new_code_cell("import utils"),
                                         nbformat.v4.new_code_cell("print(1)")])
    nbformat.write(nb, notebook)
    assert set_repository.write_install_cell(notebook, "", "main")
    assert not set_repository.write_install_cell(notebook, "", "main")  # nothing to change
    assert set_repository.write_install_cell(notebook, URL, "main")
    cells = nbformat.read(notebook, as_version=4).cells
    assert [c.get("id") == set_repository.CELL_ID for c in cells] == [False, True, False, False]
    assert URL in cells[1].source and cells[2].source == "import utils"


def test_setting_the_repository_writes_only_its_lines_of_the_config(tmp_path):
    config = tmp_path / "_config.yml"
    original = (REPO / "_config.yml").read_text()
    config.write_text(original)
    set_repository.set_config(URL, HUB, config)
    written = yaml.safe_load(config.read_text())
    assert written["repository"]["url"] == URL and written["launch_buttons"]["jupyterhub_url"] == HUB
    changed = [line for line in config.read_text().splitlines() if line not in original.splitlines()]
    assert changed == [f'  url: "{URL}"', f'  jupyterhub_url: "{HUB}"']
    set_repository.set_config("", None, config)
    assert yaml.safe_load(config.read_text())["repository"]["url"] == ""
    assert yaml.safe_load(config.read_text())["launch_buttons"]["jupyterhub_url"] == HUB  # --hub not given: kept


@pytest.mark.parametrize("url", ["github.com/a/b", "https://gitlab.com/a/b", "https://github.com/a", "http://github.com/a/b"])
def test_a_repository_that_colab_cannot_open_is_refused(url):
    with pytest.raises(SystemExit, match="expected https://github.com/OWNER/REPO"):
        set_repository.checked_url(url, "the repository", set_repository.GITHUB_REPOSITORY)


def test_the_course_as_pip_builds_it_from_the_repository_holds_every_module(tmp_path):
    """What Colab's `pip install git+...` gets: a wheel of the repository with all of `utils`."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                            "--wheel-dir", str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("dl_hands_on-*.whl")
    import zipfile
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "utils", "instructor"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    missing = [f for f in tracked if f not in names and "__pycache__" not in f]
    assert not missing, f"not in the wheel Colab would install: {missing}"


# ---- launch buttons ---------------------------------------------------------------------------

class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("href", "src") and value]


def page_links(html: Path) -> list[str]:
    parser = Links()
    parser.feed(html.read_text())
    return parser.urls


def launch_links(urls: list[str]) -> list[str]:
    return [u for u in urls if any(host in u for host in (*LAUNCH_HOSTS, "/hub/user-redirect/"))]


def build_tiny_book(folder: Path, url: str, hub: str) -> Path:
    """A one-notebook book with the course's own repository, html and launch settings and extension."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config["repository"]["url"] = url
    config["launch_buttons"]["jupyterhub_url"] = hub
    tiny = {"title": "tiny", "execute": {"execute_notebooks": "off"}, "only_build_toc_files": True,
            **{key: config[key] for key in ("repository", "html", "launch_buttons")},
            "sphinx": {"local_extensions": {"launch_buttons": str(REPO / "_ext")}}}
    (folder / "_config.yml").write_text(yaml.safe_dump(tiny))
    (folder / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n- file: chapters/one\n")
    (folder / "intro.md").write_text("# Intro\n")
    (folder / "chapters").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# One"), nbformat.v4.new_code_cell("1 + 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "chapters" / "one.ipynb")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jupyter_book), "build", str(folder), "--warningiserror", "--quiet"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder / "_build" / "html"


def test_every_launch_and_repository_link_is_built_from_the_setting(tmp_path):
    html = build_tiny_book(tmp_path, URL, HUB)
    urls = page_links(html / "chapters" / "one.html")
    launch = launch_links(urls)
    assert {host for host in (*LAUNCH_HOSTS, HUB) if any(u.startswith(f"https://{host}") or u.startswith(host)
                                                           for u in launch)} == {*LAUNCH_HOSTS, HUB}
    assert all("someone/dl-course" in u or "someone%2Fdl-course" in u for u in launch), launch
    assert any(u.startswith(f"{URL}/issues/new") for u in urls)
    assert any(u.startswith(f"{URL}/edit/main/chapters/one.ipynb") for u in urls)
    outside = [u for u in urls if u.startswith(("http:", "https:", "//"))]
    assert all(u.startswith(URL) or u in launch for u in outside), outside  # nothing else leaves the book
    assert not [u for u in urls if PLACEHOLDERS.search(u)]


def test_without_the_setting_no_page_has_a_launch_or_repository_link(tmp_path):
    html = build_tiny_book(tmp_path, "", "")
    for page in (html / "chapters" / "one.html", html / "intro.html"):
        urls = page_links(page)
        assert not launch_links(urls) and not [u for u in urls if "github.com" in u], page.name
        assert "launch-buttons" not in page.read_text()


def test_the_book_as_configured_has_no_placeholder_host():
    config = (REPO / "_config.yml").read_text()
    assert not PLACEHOLDERS.search(config)
    launch = yaml.safe_load(config)["launch_buttons"]
    assert all(not value or value.startswith("https://") and not PLACEHOLDERS.search(value)
               for key, value in launch.items() if key.endswith("_url"))


def test_built_book_links_to_no_placeholder_and_launches_only_from_the_setting(book_html):
    url, _ = set_repository.read_setting()
    for page in sorted(book_html.rglob("*.html")):
        urls = page_links(page)
        assert not [u for u in urls if PLACEHOLDERS.search(u)], page
        launch = launch_links(urls)
        if url:
            owner_repo = url.removeprefix("https://github.com/")
            assert all(owner_repo in u or owner_repo.replace("/", "%2F") in u for u in launch), (page, launch)
        else:
            assert not launch, (page, launch)


# ---- Binder, the published book, versions ------------------------------------------------------

def test_binder_environment_installs_the_course_and_its_declared_torch():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert "-e ." in pip or "." in pip, "environment.yml must install the course itself (pip: -e .)"
    conda_torch = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("pytorch"))
    assert conda_torch == f"pytorch>={torch_floor()}"


def torch_floor() -> str:
    return re.search(r'^\s*"torch>=([0-9.]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)


def test_the_declared_torch_floor_is_what_make_installs_and_test_lowest_tests():
    """The floor is a version the course is tested with: `make install`'s default, `make test-lowest`'s."""
    makefile = (REPO / "Makefile").read_text()
    default = re.search(r"^TORCH\s*\?=\s*torch==([0-9.]+)", makefile, re.M).group(1)
    assert default.startswith(torch_floor() + "."), (default, torch_floor())
    planned = subprocess.run(["make", "-n", "-B", "test-lowest"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout  # -B: the install steps too, even where they are done
    assert f'pip install --quiet "torch=={torch_floor()}"' in planned
    assert "tests/test_layers.py" in planned and "chapters/09_scaling_up.ipynb" in planned
    assert "tests/test_grading_shards.py" not in planned  # the instructor's tests need the full environment


def test_ci_publishes_what_the_readme_builds():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "book.yml").read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    steps = [step for job in workflow["jobs"].values() for step in job.get("steps", [])]
    runs = "\n".join(step.get("run", "") for step in steps)
    readme = (REPO / "README.md").read_text()
    assert "make book" in runs and "make book" in readme
    assert re.search(r"^book:", (REPO / "Makefile").read_text(), re.M)
    uploaded = [step["with"]["path"] for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert uploaded == ["_build/html"]  # both editions: the Chinese one is _build/html/zh_CN
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in steps)
    assert "make publish" in readme
    planned = subprocess.run(["make", "-n", "publish"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "jupyter-book build" in planned and re.search(r"ghp-import .*_build/html$", planned, re.M)
