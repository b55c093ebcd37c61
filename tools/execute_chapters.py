"""Execute the book's chapter notebooks into Jupyter Book's execution cache, a few at a time.

The book is built with ``execute_notebooks: cache``: Jupyter Book executes a notebook only when
its code differs from the cached run. This script does that execution before the build, ``--jobs``
notebooks at once, so the build finds every chapter in the cache and only renders. It runs each
notebook as Jupyter Book would (nbclient, in the notebook's folder, with the book's timeout) and
stores the result the way Jupyter Book does, so the build accepts it.

A failing cell stops with the notebook and the cell named. Each notebook's wall time and CPU time
(its kernel and the processes the kernel started) go to a JSON report, which ``make test`` prints
as a table.

    python tools/execute_chapters.py [--jobs N] [--report _build/chapter_times.json] [NOTEBOOK ...]
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from queue import Empty

import nbformat
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "_build" / ".jupyter_cache"  # where Jupyter Book looks by default
REPORT = REPO / "_build" / "chapter_times.json"


def toc_files() -> list[str]:
    """Every page of the table of contents (path without suffix), in reading order."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [toc["root"]] + [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def book_notebooks() -> list[Path]:
    """The notebooks of the table of contents, in reading order."""
    return [REPO / f"{file}.ipynb" for file in toc_files() if (REPO / f"{file}.ipynb").exists()]


def shown(path: Path) -> str:
    """The notebook's path as the reader knows it: relative to the repository when inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def execution_timeout() -> int:
    return yaml.safe_load((REPO / "_config.yml").read_text())["execute"]["timeout"]


def failing_cell(nb) -> str:
    """'cell N' and the first line of the first code cell whose output is an error."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            return f"cell {index} (code starting {first_line!r})"
    return "a cell that timed out or stopped the kernel"


class PromptClient(NotebookClient):
    """nbclient's client, but it polls the kernel's replies in one-second slices.

    Waiting for a reply in one long poll can miss the wake-up after a cell that shows a widget
    (jupyter/nbclient#312): the reply sits in the socket until the cell's whole timeout (ten
    minutes) has passed. A fresh poll each second finds it at once.
    """

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        get_msg = client.shell_channel.get_msg

        async def get_msg_in_slices(timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                try:
                    return await get_msg(timeout=left)
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

        client.shell_channel.get_msg = get_msg_in_slices
        return client


def execute(path: Path, timeout: int) -> dict:
    """Run one notebook in a fresh kernel; runs in a worker process, so `os.times` sees its kernel."""
    nb = nbformat.read(path, as_version=4)
    before, start = os.times(), time.perf_counter()
    error = None
    # The kernel talks to us over Unix sockets in a folder of its own, not TCP: a TCP port picked
    # for a kernel can be taken by another process starting at the same moment.
    with tempfile.TemporaryDirectory(prefix="kernel-") as sockets:
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, "kernel")}})
        # No timing in the cells: the cache matches a notebook by its cells, metadata included.
        client = PromptClient(nb, timeout=timeout, allow_errors=False, record_timing=False, config=ipc,
                              resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError) as err:
            error = err
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    run = {"notebook": shown(path), "wall_s": round(time.perf_counter() - start, 1),
           "cpu_s": round(cpu, 1), "status": "executed", "error": None}
    if error is not None:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the cell's source and traceback, no colours
        run["status"] = "failed"
        run["error"] = f"{run['notebook']}: {failing_cell(nb)} failed:\n{message}"
    else:
        run["executed_notebook"] = nbformat.writes(nb)
    return run


def run(notebooks: list[Path], jobs: int) -> list[dict]:
    """Execute the notebooks that are not in the cache, store the results, return one record each."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(CACHE))
    timeout = execution_timeout()
    runs, todo = {}, []
    for path in notebooks:
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
            runs[path] = {"notebook": shown(path), "status": "cached", "error": None,
                          "wall_s": record.data.get("execution_seconds"), "cpu_s": record.data.get("cpu_seconds")}
        except KeyError:
            todo.append(path)
    print(f"{len(runs)} notebook(s) unchanged since their cached run; executing {len(todo)}, {jobs} at a time",
          flush=True)
    # Workers are spawned, not forked: each starts clean and counts only its own kernels' time.
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn")) as pool:
        futures = {path: pool.submit(execute, path, timeout) for path in todo}
        for path, future in futures.items():
            result = future.result()
            executed = result.pop("executed_notebook", None)
            if executed is not None:
                # The same record Jupyter Book writes when it executes a notebook itself.
                cache.cache_notebook_bundle(
                    CacheBundleIn(nbformat.reads(executed, as_version=4), str(path),
                                  data={"execution_seconds": result["wall_s"], "cpu_seconds": result["cpu_s"]}),
                    check_validity=False, overwrite=True)
            print(f"  {result['status']:>8}  {result['wall_s']:7.1f} s wall  {result['cpu_s']:7.1f} s CPU  "
                  f"{result['notebook']}", flush=True)
            runs[path] = result
    return [runs[path] for path in notebooks]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("BOOK_JOBS", 2)),
                        help="notebooks executed at once (default: $BOOK_JOBS or 2)")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the JSON report")
    parser.add_argument("notebooks", nargs="*", type=Path, help="only these notebooks (default: the whole book)")
    args = parser.parse_args()
    runs = run([path.resolve() for path in args.notebooks] or book_notebooks(), args.jobs)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(runs, indent=1))
    failures = [r["error"] for r in runs if r["status"] == "failed"]
    for error in failures:
        print(f"\nERROR in {error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
