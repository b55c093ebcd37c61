"""The solution-first guard: a course whose grading environment is broken grades nobody.

The course is a copy (as on a grading server, or an instructor's second checkout) whose own
``utils/testing.py`` is broken. Graded kernels import the graded course's helpers, so the
instructor's solution fails there, and `autograde` stops with the failing cell and its error
before it records a single grade. (Had the kernel imported the helpers of the clone the course
package was installed from, as it once did, the solution would pass.)
"""
import nbformat
from nbgrader.api import Gradebook

from instructor.course import Course

from .exercise_helpers import REPO, instructor, make_course, solved, submit

EX = "ex01_foundations"


def test_a_broken_environment_stops_the_run_before_anyone_is_graded(tmp_path):
    course = make_course(tmp_path)
    testing = course / "utils" / "testing.py"
    testing.write_text(testing.read_text() + "\n\ndef assert_tensor_close(*args, **kwargs):\n"
                                             "    raise AssertionError('the copied course helper ran')\n")
    assert instructor(course, "release", EX).returncode == 0
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    submit(course, "alice", EX, solved(release, source))

    run = instructor(course, "autograde", EX, "-j", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "the grading environment is broken: the solution fails test cell test_sigmoid" in run.stderr, run.stderr
    assert "the copied course helper ran" in run.stderr and "nobody was graded" in run.stderr
    assert "alice" not in run.stdout and not (course / "autograded").exists()
    with Gradebook(Course.load(course).db_url) as gradebook:
        assert gradebook.assignment_submissions(EX) == []
