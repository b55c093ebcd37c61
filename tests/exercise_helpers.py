"""Build a throwaway course folder and sample submissions for the grading tests."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def make_course(tmp: Path) -> Path:
    """A course folder holding a copy of the configuration, the helpers (``utils/``, which graded
    kernels import from the course they grade) and the source assignments."""
    course = tmp / "course"
    course.mkdir()
    shutil.copy2(REPO / "nbgrader_config.py", course)
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    shutil.copytree(REPO / "utils", course / "utils", ignore=skip)
    shutil.copytree(REPO / "solutions", course / "solutions", ignore=skip)
    return course


def instructor(course: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "instructor", *args], cwd=course, capture_output=True,
                          text=True, timeout=timeout)


def assignments() -> list[str]:
    return sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())


def strip_solution_markers(source: str) -> str:
    return "\n".join(l for l in source.splitlines() if not re.match(r"\s*### (BEGIN|END) SOLUTION", l))


def solved(release_nb, source_nb, answers: int | None = None):
    """The released notebook with the first ``answers`` answer cells (default all) filled in
    with the instructor's solution, as a student who solved them would submit it."""
    nb = nbformat.from_dict(release_nb)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source_nb.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    filled = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            if answers is not None and filled >= answers:
                continue
            filled += 1
        if meta.get("solution"):
            cell.source = strip_solution_markers(solutions[meta["grade_id"]])
    return nb


def submit(course: Path, student: str, assignment: str, nb=None, raw: str | None = None) -> Path:
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    path = folder / f"{assignment}.ipynb"
    if raw is not None:
        path.write_text(raw)
    else:
        nbformat.write(nb, path)
    return path
