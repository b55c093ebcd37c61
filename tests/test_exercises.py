"""The exercise pipeline: sources follow the rules, the committed release is exactly nbgrader's,
nothing leaks, and autograding gives the marks each kind of submission deserves."""
import filecmp

import nbformat
import pytest
from nbgrader.api import Gradebook

from instructor.authoring import check_source
from instructor.course import Course

from .exercise_helpers import (HIDDEN_BLOCK, REPO, SOLUTION_BLOCK, assignments, instructor, make_course, solved,
                               strip_solution_markers, submit)

ASSIGNMENTS = assignments()


def test_there_are_exercises():
    assert "ex01_foundations" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_follows_the_authoring_rules(assignment):
    for path in (REPO / "solutions" / assignment).glob("*.ipynb"):
        assert check_source(nbformat.read(path, as_version=4)) == []


@pytest.fixture(scope="module")
def released_course(tmp_path_factory):
    """A fresh course folder in which `python -m instructor release` has run."""
    course = make_course(tmp_path_factory.mktemp("release"))
    result = instructor(course, "release")
    assert result.returncode == 0, result.stderr
    return course


def test_committed_release_is_exactly_what_nbgrader_generates(released_course):
    fresh, committed = released_course / "exercises", REPO / "exercises"
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert fresh_files == committed_files, "exercises/ holds other files than a fresh release: run `make release`"
    stale = [str(p) for p in fresh_files if not filecmp.cmp(fresh / p, committed / p, shallow=False)]
    assert not stale, f"exercises/ is out of date with solutions/ (run `make release`): {stale}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_and_no_hidden_test(assignment):
    for source_path in (REPO / "solutions" / assignment).glob("*.ipynb"):
        released = (REPO / "exercises" / assignment / source_path.name).read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in released
        source = nbformat.read(source_path, as_version=4)
        # A hidden or solution line may legitimately repeat a line students see (the same
        # set-up line); only lines found nowhere else must be absent from the release.
        visible = {l.strip() for cell in source.cells
                   for l in SOLUTION_BLOCK.sub("", HIDDEN_BLOCK.sub("", cell.source)).splitlines()}
        for cell in source.cells:
            for block in HIDDEN_BLOCK.findall(cell.source):
                for line in filter(None, (l.strip() for l in block.splitlines())):
                    if line not in visible:
                        assert line not in released, f"hidden test line leaked into the release: {line!r}"
            if cell.metadata["nbgrader"].get("solution") and cell.cell_type == "code":
                body = [l.strip() for l in strip_solution_markers(
                    "\n".join(m for m in cell.source.split("### BEGIN SOLUTION")[1:])).splitlines()]
                # Lines that exist only in the solution (not the signature or comments) must be gone.
                for line in body:
                    if line and line not in visible and len(line) > 12:
                        assert line not in released, f"solution line leaked into the release: {line!r}"


# ---- autograding a class ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded_class(released_course):
    """A class whose submissions cover every case the pipeline must handle, graded in one run."""
    course = released_course
    source = {a: nbformat.read(REPO / "solutions" / a / f"{a}.ipynb", as_version=4) for a in ASSIGNMENTS}
    release = {a: nbformat.read(course / "exercises" / a / f"{a}.ipynb", as_version=4) for a in ASSIGNMENTS}
    ex1 = "ex01_foundations"
    for a in ASSIGNMENTS:
        submit(course, "a_solution", a, solved(release[a], source[a]))
        submit(course, "c_release", a, release[a])
    # A notebook that is not JSON at all, graded early so the run must go on after it.
    submit(course, "b_invalid_json", ex1, raw="{ this is not a notebook")
    submit(course, "d_partial", ex1, solved(release[ex1], source[ex1], answers=1))
    tampered = nbformat.from_dict(release[ex1])
    for cell in tampered.cells:
        if cell.metadata["nbgrader"].get("grade") and cell.cell_type == "code":
            cell.source = "assert True"
    submit(course, "e_assert_true", ex1, tampered)
    looping = solved(release[ex1], source[ex1])
    first_answer = next(c for c in looping.cells if c.metadata["nbgrader"].get("solution"))
    first_answer.source = "while True:\n    pass\n" + first_answer.source
    submit(course, "f_infinite_loop", ex1, looping)
    ex6 = "ex06_lstm_gru"
    # A correct answer that warns while a test cell runs it: the warning must cost nothing.
    warns = solved(release[ex6], source[ex6])
    gru = next(c for c in warns.cells if c.metadata["nbgrader"].get("grade_id") == "gru_step")
    gru.source = "import warnings\n" + gru.source.replace("\n", "\n    warnings.warn('a library changed its mind')\n", 1)
    submit(course, "g_warns", ex6, warns)
    # Right values from what tasks 1 and 3 forbid: torch.lstm_cell (under another name) and autograd.
    forbidden = solved(release[ex6], source[ex6])
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in forbidden.cells if c.metadata["nbgrader"].get("solution")}
    answers["lstm_step"].source = ("from torch import lstm_cell\n\ndef lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):\n"
                                   "    return lstm_cell(x_t, (h_prev, c_prev), W_ih, W_hh, b_ih, b_hh)\n")
    answers["cell_state_gradient"].source = (
        "def cell_state_gradient(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, grad_h, grad_c):\n"
        "    c_prev = c_prev.detach().requires_grad_()\n"
        "    a_i, a_f, a_g, a_o = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).chunk(4, dim=1)\n"
        "    c_t = torch.sigmoid(a_f) * c_prev + torch.sigmoid(a_i) * torch.tanh(a_g)\n"
        "    ((torch.sigmoid(a_o) * torch.tanh(c_t) * grad_h).sum() + (c_t * grad_c).sum()).backward()\n"
        "    return c_prev.grad\n")
    submit(course, "h_forbidden", ex6, forbidden)

    # A cell limit far above any solution cell, even on a busy machine; the looping student hits it.
    runs = {a: instructor(course, "autograde", a, "--cell-timeout", "60") for a in ASSIGNMENTS}
    return Course.load(course), runs


def _scores(course: Course, assignment: str) -> dict[str, tuple[float, float]]:
    with Gradebook(course.db_url) as gradebook:
        return {s.student.id: (s.code_score, s.max_code_score)
                for s in gradebook.assignment_submissions(assignment)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_earns_full_marks_and_release_earns_zero(graded_class, assignment):
    course, _ = graded_class
    scores = _scores(course, assignment)
    full, maximum = scores["a_solution"]
    assert maximum > 0 and full == maximum
    assert scores["c_release"] == (0, maximum), "the unmodified release must score zero: some test is vacuous"


def test_partial_submission_earns_partial_marks(graded_class):
    course, _ = graded_class
    score, maximum = _scores(course, "ex01_foundations")["d_partial"]
    assert score == 2 and maximum == 8


def test_edited_test_cells_are_restored_from_the_gradebook(graded_class):
    course, _ = graded_class
    assert _scores(course, "ex01_foundations")["e_assert_true"][0] == 0


def test_infinite_loop_times_out_and_only_that_task_is_lost(graded_class):
    course, runs = graded_class
    assert _scores(course, "ex01_foundations")["f_infinite_loop"][0] == 6
    autograded = course.folder("autograded") / "f_infinite_loop" / "ex01_foundations" / "ex01_foundations.ipynb"
    assert "CellTimeoutError" in autograded.read_text()


def _autograded(course: Course, student: str, assignment: str) -> str:
    return (course.folder("autograded") / student / assignment / f"{assignment}.ipynb").read_text()


def test_a_warning_in_a_test_cell_costs_nothing(graded_class):
    course, _ = graded_class
    score, maximum = _scores(course, "ex06_lstm_gru")["g_warns"]
    assert score == maximum
    assert ("[warning, not an error: it costs no points] UserWarning: a library changed its mind"
            in _autograded(course, "g_warns", "ex06_lstm_gru"))


def test_an_answer_that_uses_what_its_task_forbids_loses_those_points(graded_class):
    course, _ = graded_class
    score, maximum = _scores(course, "ex06_lstm_gru")["h_forbidden"]
    assert score == maximum - 3 - 2  # task 1 (3 points) and task 3 (2 points)
    graded = _autograded(course, "h_forbidden", "ex06_lstm_gru")
    assert "Task 1 asks you not to use torch.lstm_cell" in graded
    assert "Task 3 asks you not to use torch.Tensor.backward" in graded


def test_invalid_notebook_fails_clearly_and_the_others_are_graded(graded_class):
    course, runs = graded_class
    run = runs["ex01_foundations"]
    assert run.returncode == 1  # some student failed
    assert "b_invalid_json" in run.stdout and "not a valid notebook" in run.stdout
    assert "5 graded, 1 failed" in run.stdout
    assert set(_scores(course, "ex01_foundations")) == {"a_solution", "c_release", "d_partial", "e_assert_true",
                                                       "f_infinite_loop"}


def test_feedback_and_grades_export(graded_class, tmp_path):
    course, _ = graded_class
    feedback = instructor(course.root, "feedback")  # every assignment, in one run
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    for assignment in ASSIGNMENTS:
        for student in ("a_solution", "c_release"):
            assert (course.folder("feedback") / student / assignment / f"{assignment}.html").exists(), assignment
    out = tmp_path / "grades.csv"
    assert instructor(course.root, "grades", "--output", str(out)).returncode == 0
    rows = out.read_text().splitlines()
    assert rows[0].startswith("assignment,") and any("a_solution" in r for r in rows)


def test_validate_button_reports_the_release_incomplete_and_the_solution_correct(released_course, tmp_path):
    """`nbgrader validate` is what JupyterLab's Validate button runs."""
    import subprocess
    import sys

    release = nbformat.read(released_course / "exercises" / "ex01_foundations" / "ex01_foundations.ipynb", 4)
    source = nbformat.read(REPO / "solutions" / "ex01_foundations" / "ex01_foundations.ipynb", 4)
    for name, nb in [("untouched", release), ("solved", solved(release, source))]:
        nbformat.write(nb, tmp_path / f"{name}.ipynb")

    def validate(name):
        return subprocess.run([sys.executable, "-m", "nbgrader", "validate", f"{name}.ipynb"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300).stdout

    assert "Success! Your notebook passes all the tests." in validate("solved")
    untouched = validate("untouched")
    assert "Success!" not in untouched and "NotImplementedError" in untouched
