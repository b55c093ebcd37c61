"""The instructor's commands: release, collect, autograde, feedback, grades, check, new.

Each wraps the nbgrader step of the same purpose, run from the course folder. ``autograde``
grades every student in a process of its own, so one broken submission (invalid JSON, a
deleted cell, a crash) is recorded as that student's failure and the class run goes on.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from .authoring import answer, check_source, given_code, instructions, new_notebook, tests, written_answer
from .course import Course

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


# ---- collect ---------------------------------------------------------------------------------

def collect(course: Course, assignment: str, archives: list[str]) -> int:
    """Unpack LMS zip exports into submitted/<student>/<assignment>/ (nbgrader zip_collect)."""
    archive_dir = course.root / "downloaded" / assignment / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    for archive in archives:
        shutil.copy2(archive, archive_dir)
    result = nbgrader(course, "zip_collect", assignment, "--force")
    print(result.stdout + result.stderr if result.returncode else "", end="")
    if result.returncode:
        return _fail(f"nbgrader zip_collect failed for {assignment}")
    students = course.students(assignment)
    print(f"{assignment}: {len(students)} submissions in {course.folder('submitted').name}/: {', '.join(students)}")
    return 0


# ---- autograde -------------------------------------------------------------------------------

@dataclass
class Outcome:
    student: str
    status: str  # "graded" or "failed"
    reason: str = ""
    score: float | None = None
    max_score: float | None = None


def autograde(course: Course, assignment: str, students: list[str], cell_timeout: int | None) -> int:
    """Grade each student in a separate nbgrader process; print one line each and a summary."""
    students = students or course.students(assignment)
    if not students:
        return _fail(f"no submissions for {assignment} in {course.folder('submitted')}")
    extra = [f"--Execute.timeout={cell_timeout}"] if cell_timeout else []
    outcomes = []
    for student in students:
        outcome = _grade_one(course, assignment, student, extra)
        outcomes.append(outcome)
        detail = f"{outcome.score:g} / {outcome.max_score:g}" if outcome.status == "graded" else outcome.reason
        print(f"{student:24s} {outcome.status:7s} {detail}", flush=True)
    failed = [o for o in outcomes if o.status != "graded"]
    print(f"\n{assignment}: {len(outcomes) - len(failed)} graded, {len(failed)} failed")
    for o in failed:
        print(f"  failed  {o.student}: {o.reason}")
    return int(bool(failed))


def _grade_one(course: Course, assignment: str, student: str, extra: list[str]) -> Outcome:
    problem = _unreadable_notebook(course, assignment, student)
    if problem:
        return Outcome(student, "failed", problem)
    result = nbgrader(course, "autograde", assignment, "--student", student, "--force", *extra)
    if result.returncode:
        lines = [l for l in (result.stdout + result.stderr).splitlines() if "ERROR" in l or "Error" in l]
        return Outcome(student, "failed", (lines[-1] if lines else "nbgrader autograde failed").strip()[:300])
    score, max_score = autograded_score(course, assignment, student)
    return Outcome(student, "graded", score=score, max_score=max_score)


def _unreadable_notebook(course: Course, assignment: str, student: str) -> str:
    """A clear reason when a submitted notebook cannot even be parsed, else ''."""
    folder = course.folder("submitted") / student / assignment
    for source in course.source_notebooks(assignment):
        path = folder / source.name
        if not path.exists():
            return f"missing {source.name}"
        try:
            nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8", errors="replace"), as_version=4))
        except (json.JSONDecodeError, nbformat.ValidationError, UnicodeError) as error:
            return f"{source.name} is not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
        except Exception as error:  # nbformat raises NotJSONError and other reader errors too
            return f"{source.name} is not a valid notebook ({type(error).__name__}: {str(error).splitlines()[0][:120]})"
    return ""


def autograded_score(course: Course, assignment: str, student: str) -> tuple[float, float]:
    """The autograded (code) score and its maximum from the gradebook."""
    with Gradebook(course.db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, 0.0
        return submission.code_score, submission.max_code_score


# ---- feedback and grades ---------------------------------------------------------------------

def feedback(course: Course, assignment: str) -> int:
    result = nbgrader(course, "generate_feedback", assignment, "--force")
    if result.returncode:
        return _fail(f"nbgrader generate_feedback failed:\n{result.stderr[-3000:]}")
    print(f"feedback for {assignment} in {course.folder('feedback').name}/<student>/{assignment}/")
    return 0


def grades(course: Course, output: str) -> int:
    result = nbgrader(course, "export", "--to", output)
    if result.returncode:
        return _fail(f"nbgrader export failed:\n{result.stderr[-3000:]}")
    print(f"grades of every student and assignment written to {output}")
    return 0


# ---- command line ----------------------------------------------------------------------------

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
    p = sub.add_parser("collect", help="unpack LMS zip exports into submitted/")
    p.add_argument("assignment")
    p.add_argument("archives", nargs="*", help="zip files (default: those already in downloaded/ASSIGNMENT/archive)")
    p = sub.add_parser("autograde", help="grade every submission of an assignment, one student at a time")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", default=[], help="grade only this student (repeatable)")
    p.add_argument("--cell-timeout", type=int, help="seconds a cell may run (default: nbgrader_config.py)")
    p = sub.add_parser("feedback", help="generate HTML feedback for every graded student")
    p.add_argument("assignment")
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
        return autograde(course, args.assignment, args.student, args.cell_timeout)
    if args.command == "feedback":
        return feedback(course, args.assignment)
    return grades(course, args.output)
