"""How long grading a class takes: our sandboxed, parallel command against stock nbgrader.

    python benchmarks/bench_grading.py [--students 30] [--jobs N]

Builds a throw-away course with a class of generated ex01 submissions (solutions, partial
answers, untouched releases and a few broken notebooks), then prints

- the wall time of ``python -m instructor autograde -j N`` (sandboxed where bwrap runs),
- the wall time of serial stock ``nbgrader autograde`` on the same class, in one run,
- the sandbox's own cost per notebook: one notebook (torch imported, four cells) run in the
  jailed kernel with resource limits only, and in bubblewrap with the per-student limits
  (control group where one can be made, size-limited working folder), the median of several runs.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from instructor.course import Course  # noqa: E402
from instructor.kernel import GuardedExecute, JailedKernelManager  # noqa: E402
from instructor.limits import Cgroup, detect, remove_parents  # noqa: E402
from instructor.sandbox import KernelJail, Sandbox, find_bwrap, sandbox_problem  # noqa: E402
from tests.exercise_helpers import instructor, make_course, solved, submit  # noqa: E402

EX = "ex01_foundations"


def make_class(root: Path, students: int) -> Path:
    root.mkdir()
    course = make_course(root)
    assert instructor(course, "release", EX).returncode == 0
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    for i in range(students):
        kind = i % 10
        if kind == 9:
            submit(course, f"student{i:03d}", EX, raw="{ not a notebook")
        elif kind in (7, 8):
            submit(course, f"student{i:03d}", EX, release)
        else:
            submit(course, f"student{i:03d}", EX, solved(release, source, answers=None if kind < 4 else kind - 3))
    return course


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start


def sandbox_cost(course: Path, runs: int) -> tuple[float, float, str]:
    """Median seconds to run a small torch notebook in the jailed kernel, without and with the
    sandbox (bwrap and the per-student limits), and which limits the sandbox had."""
    loaded = Course.load(course)
    sandbox = Sandbox(config=loaded.config)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in
                                         ("import torch", "x = torch.randn(3)", "y = x * 2", "print(y.sum())")])
    times = {False: [], True: []}
    bwrap = find_bwrap(sandbox)
    mode = detect(f"bench-{os.getpid()}")
    with tempfile.TemporaryDirectory() as grading_root:
        root = Path(grading_root)
        usable = bwrap and not sandbox_problem(sandbox, loaded.root, root)
        for i in range(runs):
            for jailed in (False, True) if usable else (False,):
                workdir, channel = root / f"{i}-{jailed}" / "work", root / f"{i}-{jailed}" / "channel"
                workdir.mkdir(parents=True)
                channel.mkdir()
                start = time.perf_counter()  # the group's creation and removal count
                cgroup = Cgroup(mode, f"bench-{i}", sandbox.memory_mb, sandbox.max_processes).create() \
                    if jailed and mode.kind else None
                jail = KernelJail(sandbox, bwrap if jailed else None, loaded.root, workdir, channel, 1, "bench",
                                  cgroup)
                km = JailedKernelManager(jail=jail, kernel_name="python3", connection_file=str(channel / "k.json"))
                if jailed:
                    km.transport, km.ip = "ipc", str(channel / "kernel")
                GuardedExecute(timeout=60).preprocess(nbformat.from_dict(nb), {"metadata": {"path": str(workdir)}},
                                                      km=km)
                if cgroup:
                    cgroup.close()
                times[jailed].append(time.perf_counter() - start)
    remove_parents(mode)
    plain = statistics.median(times[False])
    limits = f"{mode.describe() or 'no control group'}, {sandbox.disk_mb} MiB tmpfs"
    return plain, statistics.median(times[True]) if times[True] else float("nan"), limits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--runs", type=int, default=5, help="runs for the per-notebook sandbox cost")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = make_class(Path(tmp) / "ours", args.students)
        stock = Path(tmp) / "stock"
        shutil.copytree(ours, stock)
        ours_s = timed([sys.executable, "-m", "instructor", "autograde", EX, "-j", str(args.jobs)], ours)
        stock_s = timed([sys.executable, "-m", "nbgrader", "autograde", EX, "--force"], stock)
        plain, jailed, limits = sandbox_cost(ours, args.runs)
    print(f"class of {args.students} generated submissions of {EX}, {os.cpu_count()} CPU cores")
    print(f"  python -m instructor autograde -j {args.jobs}: {ours_s:7.1f} s")
    print(f"  stock nbgrader autograde (serial):   {stock_s:7.1f} s   ({stock_s / ours_s:.2f}x ours)")
    print(f"one notebook in the jailed kernel: {plain:.2f} s with resource limits only, {jailed:.2f} s in bwrap "
          f"({limits}): the sandbox costs {jailed - plain:+.2f} s per notebook")


if __name__ == "__main__":
    main()
