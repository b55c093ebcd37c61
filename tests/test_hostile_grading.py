"""A hostile class, graded by the documented command (`python -m instructor autograde -j 2`).

Reference solutions (one graded first, one last) earn full marks, the untouched release zero,
and every hostile submission zero (or a recorded failure), while the course files stay byte
for byte the same, no process outlives grading, nothing is written outside the student's
folder, and no feedback file shows a hidden test.

Where bubblewrap cannot run here (no user namespaces), the class is graded with resource
limits only: the submissions that attack the course folder are left out and the assertions
that only the sandbox can make are skipped, with the reason.
"""
import hashlib
import html
import re
import shutil
import uuid

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook

from instructor.course import Course
from instructor.feedback import hidden_lines
from instructor.sandbox import Sandbox, sandbox_problem

from .exercise_helpers import REPO, instructor, make_course, solved, submit

EX = "ex01_foundations"
RUN_ID = uuid.uuid4().hex[:12]
DAEMON_MARKER = f"hostile-daemon-{RUN_ID}"
XSS_MARKER = "<script>alert('xss-marker')</script>"


def _sandbox_problem(course) -> str:
    return sandbox_problem(Sandbox(config=Course.load(course).config), course.resolve(), course.parent.resolve())


def hostile(release, code: str, markdown: str | None = None):
    """The release with every code answer replaced by ``code`` (and written answers by ``markdown``)."""
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        if cell.metadata["nbgrader"].get("solution"):
            if cell.cell_type == "code":
                cell.source = code
            elif markdown is not None:
                cell.source = markdown
    return nb


IPYTHON_HOOKS = """
import ast
class Nothing(ast.NodeTransformer):
    def visit_Module(self, node):
        node.body = []
        return node
shell = get_ipython()
shell.ast_transformers.append(Nothing())
shell.input_transformers_post.append(lambda lines: ["pass\\n"])
shell.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
shell.showtraceback = lambda *args, **kwargs: None
shell._showtraceback = lambda *args, **kwargs: None
shell.events.register("pre_run_cell", lambda *args: shell.user_ns.update(assert_tensor_close=lambda *a, **k: None))
"""

FAKE_TENSOR = """
import torch
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None): return True
sigmoid = sigmoid_grad = mse_loss = mse_grad = mlp_forward = lambda *args, **kwargs: Anything()
gradient_descent_step = lambda *args, **kwargs: (Anything(), Anything())
torch.allclose = torch.equal = lambda *args, **kwargs: True
assert_tensor_close = assert_raises = lambda *args, **kwargs: None
"""

MIDTEST_PATCH = """
import torch
def _cheat(*args, **kwargs):
    globals()["assert_tensor_close"] = globals()["assert_raises"] = lambda *a, **k: None
    torch.allclose = lambda *a, **k: True
    return torch.zeros(1, 1), torch.zeros(1)
sigmoid = sigmoid_grad = mse_loss = mse_grad = mlp_forward = gradient_descent_step = _cheat
"""

KILL_KERNEL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"

BACKGROUND = f"""
import os, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)  # {DAEMON_MARKER}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)  # {DAEMON_MARKER}"])
"""

MEMORY_AND_DISK = """
try:
    hog = bytearray(64 * 1024 ** 3)
except MemoryError:
    print("64 GiB refused")
with open("big.bin", "wb") as f:
    f.write(b"0" * (200 * 1024 ** 2))
"""

OUTPUT_FLOOD = "print('x' * 60_000_000)\nfor i in range(200_000):\n    print(i)\n"

HTML_INJECTION = f"""
from IPython.display import HTML, display
display(HTML("{XSS_MARKER}<img src=x onerror=alert(1)>"))
print("{XSS_MARKER}")
"""

EXFILTRATE = """
import linecache
def _everything(*args, **kwargs):
    sources = [''.join(entry[2]) for entry in list(linecache.cache.values()) if isinstance(entry[2], list)]
    print('\\n'.join(sources))
    raise AssertionError('\\n'.join(sources))
sigmoid = sigmoid_grad = mse_loss = mse_grad = mlp_forward = gradient_descent_step = _everything
"""


def course_attack(course, sentinels) -> str:
    """Everything stock nbgrader let an answer do to the course, the instructor and the machine."""
    writes = "\n".join(f"    _try(lambda: open({str(p)!r}, 'w').write('pwned'))" for p in sentinels)
    return f"""
import sqlite3, pathlib
def _try(action):
    try:
        action()
    except Exception as error:
        print(type(error).__name__)
def _attack():
    _try(lambda: sqlite3.connect({str(course / 'gradebook.db')!r}).execute("update grade set auto_score = 1000").connection.commit())
    for path in pathlib.Path({str(course)!r}).rglob("*.ipynb"):
        _try(lambda: path.write_text("{{}}"))
    _try(lambda: print(open({str(course / 'solutions' / EX / f'{EX}.ipynb')!r}).read()))
{writes}
_attack()
"""


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course = make_course(root)
    assert instructor(course, "release", EX).returncode == 0
    problem = _sandbox_problem(course)
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    sentinels = [course / f"PWNED-{RUN_ID}", root / f"PWNED-{RUN_ID}", course / "submitted" / f"PWNED-{RUN_ID}"]

    submit(course, "a_solution_first", EX, solved(release, source))
    submit(course, "b_release", EX, release)
    submit(course, "c_invalid_json", EX, raw='{"cells": [')
    pasted = nbformat.from_dict(release)
    tests = [c for c in pasted.cells if c.metadata["nbgrader"].get("grade")]
    copy = nbformat.from_dict(tests[0])
    copy.source = "assert True"
    pasted.cells.insert(1, copy)  # a pasted copy of a test cell, with its metadata, edited
    pasted.cells.remove(tests[1])  # and a deleted test cell
    submit(course, "d_pasted_and_deleted_tests", EX, pasted)
    submit(course, "e_ipython_hooks", EX, hostile(release, IPYTHON_HOOKS))
    submit(course, "f_fake_tensor", EX, hostile(release, FAKE_TENSOR))
    submit(course, "g_patches_during_tests", EX, hostile(release, MIDTEST_PATCH))
    submit(course, "h_kills_kernel", EX, hostile(release, KILL_KERNEL))
    submit(course, "i_processes_memory_disk", EX, hostile(release, BACKGROUND + MEMORY_AND_DISK))
    submit(course, "k_output_flood_and_html", EX, hostile(release, OUTPUT_FLOOD + HTML_INJECTION,
                                                          markdown=XSS_MARKER + '<img src=x onerror="alert(1)">'))
    submit(course, "m_exfiltrates_hidden_tests", EX, hostile(release, EXFILTRATE))
    if not problem:  # without the sandbox these would really damage the course
        attack = hostile(release, course_attack(course, sentinels))
        attack.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
        path = submit(course, "n_attacks_the_course", EX, attack)
        startup = path.parent / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-cheat.py").write_text("assert_tensor_close = lambda *a, **k: None\n")
        (path.parent / "utils.py").write_text("raise SystemExit('shadowed')\n")
    submit(course, "z_solution_last", EX, solved(release, source))

    before = _fingerprint(course)
    run = instructor(course, "autograde", EX, "-j", "2", "--cell-timeout", "30")
    feedback = instructor(course, "feedback", EX)
    return Course.load(course), run, feedback, before, problem, sentinels


def _fingerprint(course) -> dict[str, str]:
    """Every course file except grading results, by content hash."""
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(course.rglob("*"))
            if p.is_file() and p.relative_to(course).parts[0] not in ("autograded", "feedback")
            and p.name not in ("gradebook.db", "gradebook.db-journal")}


def _scores(course: Course) -> dict[str, float]:
    with Gradebook(course.db_url) as gradebook:
        return {s.student.id: s.code_score for s in gradebook.assignment_submissions(EX)}


def test_solutions_get_full_marks_first_and_last(hostile_class):
    course, run, *_ = hostile_class
    scores = _scores(course)
    assert scores["a_solution_first"] == 8 and scores["z_solution_last"] == 8, run.stdout + run.stderr


def test_release_and_every_hostile_submission_score_zero(hostile_class):
    course, run, *_ = hostile_class
    scores = _scores(course)
    students = [p.name for p in course.folder("submitted").iterdir() if p.is_dir()]
    for student in students:
        if "solution" not in student:
            assert scores.get(student, 0) == 0, f"{student} earned {scores[student]}\n{run.stdout}"


def test_broken_submissions_fail_clearly_and_the_run_goes_on(hostile_class):
    course, run, *_ = hostile_class
    assert run.returncode == 1, run.stdout + run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line and not line.startswith(" ")}
    assert "not a valid notebook" in lines["c_invalid_json"]
    assert "kernel died" in lines["h_kills_kernel"]
    assert "graded  0 / 8" in lines["d_pasted_and_deleted_tests"]
    assert "2 failed" in run.stdout and "flagged for review" in run.stdout
    assert "z_solution_last" in _scores(course)


def test_tampering_is_flagged_for_review(hostile_class):
    course, *_ = hostile_class
    report = (course.folder("autograded") / f"review-{EX}.txt").read_text()
    for student, expected in [("d_pasted_and_deleted_tests", "deleted test cell"),
                              ("e_ipython_hooks", "adds an AST transformer"),
                              ("e_ipython_hooks", "the test guard undid"),
                              ("f_fake_tensor", "defines __torch_function__"),
                              ("g_patches_during_tests", "monkeypatching")]:
        section = report.split(f"{student}\n")[1].split("\n\n")[0]
        assert expected in section, f"{student}: {expected!r} not in the report:\n{report}"
    assert "a_solution_first\n" not in report and "z_solution_last\n" not in report, report


def test_course_files_are_unchanged(hostile_class):
    course, _, _, before, *_ = hostile_class
    assert _fingerprint(course.root) == before


def test_no_process_outlives_grading(hostile_class):
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"]) if DAEMON_MARKER in " ".join(p.info["cmdline"] or [])]
    assert not leftovers


def test_nothing_is_written_outside_the_students_folder(hostile_class):
    course, run, _, _, problem, sentinels = hostile_class
    if problem:
        pytest.skip(f"bubblewrap cannot run here, graded with resource limits only: {problem}")
    assert not [p for p in sentinels if p.exists()]
    assert "sandboxed" in run.stdout and "NOT sandboxed" not in run.stdout
    assert _scores(course)["n_attacks_the_course"] == 0


def test_without_the_sandbox_grading_says_so_loudly(hostile_class):
    _, run, _, _, problem, _ = hostile_class
    if not problem:
        pytest.skip("bubblewrap runs here: test_without_bwrap_grading_warns_or_refuses tests the fallback")
    assert "WARNING: grading WITHOUT a sandbox" in run.stderr


def test_outputs_are_capped(hostile_class):
    course, *_ = hostile_class
    autograded = course.folder("autograded") / "k_output_flood_and_html" / EX / f"{EX}.ipynb"
    assert autograded.stat().st_size < 1_000_000
    assert (course.folder("feedback") / "k_output_flood_and_html" / EX / f"{EX}.html").stat().st_size < 2_000_000


def test_feedback_shows_no_hidden_test_and_no_active_html(hostile_class):
    course, _, feedback, *_ = hostile_class
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    secret = hidden_lines(nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4))
    assert secret
    files = list(course.folder("feedback").glob(f"*/{EX}/*.html"))
    assert len(files) >= 8
    for path in files:
        text = path.read_text()
        shown = html.unescape(re.sub(r"<[^>]+>", "", text))  # the page as text, whatever the markup
        for line in secret:
            assert line not in shown, f"{path.parent.parent.name}: hidden test line in feedback: {line!r}"
        assert XSS_MARKER not in text, path
        assert not re.search(r"<img[^>]*onerror", text, re.I), path
    for path in course.folder("autograded").glob(f"*/{EX}/*.ipynb"):  # what formgrader renders
        nb = nbformat.read(path, as_version=4)
        rendered = [c.source for c in nb.cells if c.cell_type == "markdown"] + [
            str(o.data) for c in nb.cells for o in c.get("outputs", []) if "data" in o]
        for text in rendered:
            assert XSS_MARKER not in text and not re.search(r"<img[^>]*onerror", text, re.I), path


def test_without_bwrap_grading_warns_or_refuses(hostile_class, tmp_path):
    """The fallback: with no usable bwrap, --require-sandbox refuses; otherwise grading goes on,
    with resource limits only, and says so loudly."""
    course = tmp_path / "course"
    shutil.copytree(hostile_class[0].root, course, ignore=shutil.ignore_patterns("autograded", "feedback", "submitted"))
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Sandbox.bwrap = '/nonexistent/bwrap'\n")
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    submit(course, "alice", EX, solved(release, source))
    refused = instructor(course, "autograde", EX, "--require-sandbox")
    assert refused.returncode == 1 and "refusing to grade" in refused.stderr
    assert not (course / "autograded").exists()
    graded = instructor(course, "autograde", EX)
    assert "WARNING: grading WITHOUT a sandbox" in graded.stderr and "NOT sandboxed" in graded.stdout
    assert graded.returncode == 0 and "alice                    graded  8 / 8" in graded.stdout, graded.stdout
