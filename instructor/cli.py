"""The instructor's commands: release, collect, autograde, feedback, grades, check, new.

Each wraps the nbgrader step of the same purpose, run from the course folder. ``autograde``
(:mod:`instructor.grading`) runs every student's notebook in a sandboxed kernel of its own,
so one broken or hostile submission is recorded as that student's failure or flag and the
class run goes on; ``feedback`` never shows the hidden tests (:mod:`instructor.feedback`).
"""
import argparse
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from .authoring import answer, check_source, given_code, instructions, new_notebook, tests, written_answer
from .collect import collect
from .course import Course
from .export import export_grades
from .feedback import hidden_lines, leaked_lines
from .files import printable
from .grading import autograde
from .shards import ShardError, scheduler_shard

LEAK_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def nbgrader(course: Course, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run one nbgrader command in the course folder; its output is captured, not printed.

    nbgrader runs the ``alembic`` program of its own environment, so that environment's
    ``bin`` folder goes first on PATH even when the venv has not been activated.
    """
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course.root, capture_output=True,
                          text=True, timeout=timeout, env=env)


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


# ---- release ---------------------------------------------------------------------------------

def release(course: Course, assignments: list[str]) -> int:
    """Check each source notebook, generate the student release, and verify it leaks nothing."""
    for assignment in assignments or course.assignments():
        problems = _check_assignment(course, assignment)
        if problems:
            return _fail(f"{assignment}: not released, the source breaks the authoring rules:\n  " + "\n  ".join(problems))
        result = nbgrader(course, "generate_assignment", assignment, "--force")
        if result.returncode:
            return _fail(f"{assignment}: nbgrader generate_assignment failed:\n{result.stderr[-3000:]}")
        leaks = [str(p) for p in (course.folder("release") / assignment).rglob("*.ipynb")
                 if any(m in p.read_text() for m in LEAK_MARKERS)]
        if leaks:
            return _fail(f"{assignment}: the release still contains solution or hidden-test markers: {leaks}")
        print(f"released {assignment} -> {course.folder('release').name}/{assignment}/")
    return 0


def _check_assignment(course: Course, assignment: str) -> list[str]:
    notebooks = course.source_notebooks(assignment)
    if not notebooks:
        return [f"no notebook in {course.folder('source').name}/{assignment}/"]
    return [f"{nb.name}: {p}" for nb in notebooks for p in check_source(nbformat.read(nb, as_version=4))]


def check(course: Course, assignments: list[str]) -> int:
    """Check the authoring rules on every source notebook (see instructor.authoring)."""
    failed = False
    for assignment in assignments or course.assignments():
        problems = _check_assignment(course, assignment)
        failed |= bool(problems)
        print(f"{assignment}: " + ("ok" if not problems else "\n  " + "\n  ".join(problems)))
    return int(failed)


def new(course: Course, assignment: str) -> int:
    """Create solutions/<assignment>/<assignment>.ipynb with one cell of every kind to fill in."""
    path = course.folder("source") / assignment / f"{assignment}.ipynb"
    if path.exists():
        return _fail(f"{path} exists already")
    path.parent.mkdir(parents=True)
    cells = [
        instructions(f"# {assignment}\n\nWhat this exercise practises, and a table of tasks and points.", "intro"),
        given_code("import torch\n\nfrom utils.testing import assert_raises, assert_tensor_close\n\ntorch.manual_seed(0)", "setup"),
        instructions("## Task 1: ... (2 points)\n\nThe formula, the shapes, and what to return.", "task1"),
        answer("def task1(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION", "task1_answer"),
        tests("assert_tensor_close(task1(torch.ones(2)), torch.ones(2), 'task1 on ones')\n"
              "### BEGIN HIDDEN TESTS\nx = torch.randn(5)\nassert_tensor_close(task1(x), x, 'task1 on random input')\n"
              "### END HIDDEN TESTS", "test_task1", points=2),
        instructions("## Task 2: a written question (2 points, graded by your instructor)", "task2"),
        written_answer("A model answer, for the graders.", "written_task2", points=2),
    ]
    nbformat.write(new_notebook(cells), path)
    print(f"created {path.relative_to(course.root)}: edit it in JupyterLab, then `python -m instructor release {assignment}`")
    return 0


# ---- feedback and grades ---------------------------------------------------------------------

def feedback(course: Course, assignments: list[str]) -> int:
    """HTML feedback per student (nbgrader generate_feedback with instructor.feedback.SafeFeedback)
    for ``assignments`` (default: every graded one, in one run), checked afterwards for any line of
    a hidden test: a file that shows one is removed, and named."""
    runs = [nbgrader(course, "generate_feedback", a, "--force") for a in assignments or ["*"]]
    for result in runs:
        if result.returncode:
            return _fail(f"nbgrader generate_feedback failed:\n{result.stderr[-3000:]}")
    leaks = []
    for assignment in assignments or course.assignments():
        secret = [line for source in course.source_notebooks(assignment)
                  for line in hidden_lines(nbformat.read(source, as_version=4))]
        leaks += [path for path in course.folder("feedback").glob(f"*/{assignment}/*.html")
                  if leaked_lines(path.read_text(errors="replace"), secret)]
    for path in leaks:
        path.unlink()
    print(f"feedback in {course.folder('feedback').name}/<student>/<assignment>/")
    if leaks:
        return _fail("removed these feedback files, which show a line of a hidden test (read the students' "
                     "autograded notebooks): " + ", ".join(printable(f"{p.parent.parent.name}/{p.parent.name}")
                                                           for p in leaks))
    return 0


def grades(course: Course, output: str) -> int:
    """Every student's grade of every assignment, as CSV (see instructor.export)."""
    rows = export_grades(course.db_url, output)
    print(f"grades of every student and assignment ({rows} rows) written to {output}")
    return 0


# ---- command line ----------------------------------------------------------------------------

def _shard(text: str) -> tuple[int, int]:
    """'K/N' with 1 <= K <= N, as a pair; 'auto' takes K and N from the scheduler (instructor.shards)."""
    if text == "auto":
        try:
            return scheduler_shard()
        except ShardError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected K/N such as 2/4, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"expected 1 <= K <= N, got {text!r}")
    return k, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instructor", description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=".", help="course folder (holding nbgrader_config.py)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate exercises/ from solutions/ (all assignments by default)")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("check", help="check the authoring rules of the source notebooks")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("new", help="start a new exercise notebook with correct nbgrader metadata")
    p.add_argument("assignment")
    p = sub.add_parser("collect", help="unpack LMS zip exports into submitted/ (what is skipped is listed)")
    p.add_argument("assignment")
    p.add_argument("archives", nargs="*", help="zip files (default: those already in downloaded/ASSIGNMENT/archive)")
    p = sub.add_parser("autograde", help="grade every submission of an assignment, each in its own sandbox")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")
    p.add_argument("--cell-timeout", type=int, help="seconds a cell may run (default: nbgrader_config.py)")
    p.add_argument("-j", "--jobs", type=int, help="students graded at the same time (default: all CPU cores)")
    p.add_argument("--require-sandbox", action="store_true",
                   help="refuse to grade when the bubblewrap sandbox cannot run, or (as root) cannot run kernels as "
                        "an unprivileged user (default: warn and grade)")
    p.add_argument("--grade-as", metavar="USER",
                   help="as root, the unprivileged user kernels run as (default: c.Sandbox.user, nobody)")
    p.add_argument("--shard", type=_shard, default=(1, 1), metavar="K/N",
                   help="grade only slice K of N of the students (N machines sharing one PostgreSQL gradebook); "
                        "'auto': K and N from a Kubernetes Indexed Job or a Slurm job array")
    p = sub.add_parser("feedback", help="generate HTML feedback for every graded student")
    p.add_argument("assignments", nargs="*", help="assignments (default: every graded one)")
    p = sub.add_parser("grades", help="export all grades to CSV")
    p.add_argument("--output", default="grades.csv")
    args = parser.parse_args(argv)

    course = Course.load(args.course)
    if args.command == "release":
        return release(course, args.assignments)
    if args.command == "check":
        return check(course, args.assignments)
    if args.command == "new":
        return new(course, args.assignment)
    if args.command == "collect":
        return collect(course, args.assignment, args.archives)
    if args.command == "autograde":
        if args.grade_as is not None:
            course.config.Sandbox.user = args.grade_as
        return autograde(course, args.assignment, args.student, args.cell_timeout, args.jobs, args.require_sandbox,
                         args.shard)
    if args.command == "feedback":
        return feedback(course, args.assignments)
    return grades(course, args.output)
