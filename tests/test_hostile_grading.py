"""A hostile class, graded by the documented command (`python -m instructor autograde -j 2`).

Reference solutions (one graded first, one last) earn full marks, the untouched release zero,
and every hostile submission zero (or a recorded failure), while the course files stay byte
for byte the same, no process outlives grading, nothing is written outside the student's
folder, and no feedback file shows a hidden test. The class runs under small limits
(``LIMITS``): a kernel that ignores interrupts is killed within seconds, and memory, process
count and disk hold for a student's whole sandbox.

Where bubblewrap cannot run here (no user namespaces), or no control group can be made, the
class is graded with what remains: the submissions that need the missing protection are left
out and the assertions that only it can make are skipped, with the reason.

A second, smaller run (``second_run``) grades a submission that takes longer than the
per-notebook limit to prepare, with ``c.Sandbox.user`` naming no user; the manual grading view of
formgrader is opened in Chromium (a browser test, skipped without Chromium and Playwright).
"""
import ast
import hashlib
import html
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import nbformat
import psutil
import pytest
from IPython.core import inputtransformer2
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbgrader.api import Gradebook
from nbgrader.server_extensions.formgrader import handlers as formgrader_handlers

from instructor.assemble import assemble, load_templates
from instructor.course import Course
from instructor.feedback import hidden_lines
from instructor.files import UnsafeFile, read_regular, remove_tree
from instructor.limits import detect, remove_parents
from instructor.sandbox import Sandbox, kernel_user, sandbox_problem
from instructor.scan import scan_source

from .browser_helpers import jupyter_lab, launch_chromium, missing
from .exercise_helpers import REPO, assignments, instructor, make_course, solved, submit

EX = "ex01_foundations"
RUN_ID = uuid.uuid4().hex[:12]
DAEMON_MARKER = f"hostile-daemon-{RUN_ID}"
XSS_MARKER = "<script>alert('xss-marker')</script>"
# The class's limits: small, so that the submissions that exceed them stay quick.
LIMITS = {"memory_mb": 2048, "max_processes": 64, "disk_mb": 100, "interrupt_grace": 3, "notebook_timeout": 300,
          "max_notebook_mb": 4}
CELL_TIMEOUT = 30


def _sandbox_problem(course, as_user: bool = False) -> str:
    sandbox = Sandbox(config=Course.load(course).config)
    user = kernel_user(sandbox) if as_user else None
    return sandbox_problem(sandbox, course.resolve(), course.parent.resolve(), user)


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

IGNORES_INTERRUPT = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
while True:
    pass
"""

# Three processes of 1.5 GiB each, against a 2 GiB limit: at most one can hold its block.
FORKED_MEMORY = """
import os, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(1536 * 1024 ** 2)  # zero-filled: every page is really used
            time.sleep(4)
            os._exit(0)
        except MemoryError:
            os._exit(1)
    children.append(pid)
held = sum(os.waitpid(pid, 0)[1] == 0 for pid in children)
print(f"children that held 1.5 GiB: {held} of 3")
"""

PROCESS_FLOOD = """
import subprocess
started = []
try:
    for _ in range(600):
        started.append(subprocess.Popen(["sleep", "120"]))
except OSError as error:
    print(type(error).__name__)
print(f"processes started: {len(started)} of 600")
"""

# 300 MB in files of 60 MB (under the 64 MiB per-file limit) against a 100 MB working folder.
DISK_FILL = """
written = 0
try:
    for i in range(5):
        with open(f"fill{i}.bin", "wb") as f:
            for _ in range(6):
                f.write(b"0" * 10 ** 7)
                f.flush()
                written += 10
except OSError as error:
    print(type(error).__name__)
print(f"megabytes written: {written} of 300")
"""

# Patches that hide themselves: each fake puts the original back when it is called, so after
# the test cell nothing looks changed.
SELF_RESTORING_PATCH = """
import torch
def _cheat(*args, **kwargs):
    names = globals()
    real_close, real_raises, real_allclose = names["assert_tensor_close"], names["assert_raises"], torch.allclose
    def fake_close(*a, **k):
        names["assert_tensor_close"] = real_close
    def fake_raises(*a, **k):
        names["assert_raises"] = real_raises
    def fake_allclose(*a, **k):
        torch.allclose = real_allclose
        return True
    names["assert_tensor_close"], names["assert_raises"], torch.allclose = fake_close, fake_raises, fake_allclose
    real_detach = torch.Tensor.detach
    def fake_detach(self):
        torch.Tensor.detach = real_detach
        return torch.zeros(1, 1)
    torch.Tensor.detach = fake_detach
    return torch.zeros(1, 1), torch.zeros(1)
sigmoid = sigmoid_grad = mse_loss = mse_grad = mlp_forward = gradient_descent_step = _cheat
"""

# A correct answer that sets and removes a trace function while it is tested.
TRACE_HOOK = """
import sys
_sigmoid = sigmoid
def sigmoid(z):
    sys.settrace(lambda *args: None)
    sys.settrace(None)
    return _sigmoid(z)
"""

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

# Markdown links to script addresses, spelled as CommonMark allows (an entity, a reference link).
SCRIPT_LINKS = ("[a](javascript:alert(1))\n\n[b](JaVa&#115;cript:alert(2))\n\n[c][r]\n\n[r]: vbscript:msgbox(3)\n\n"
                "![d](data:text/html,alert)")
HTML_INJECTION = f"""
from IPython.display import HTML, Markdown, display
display(HTML("{XSS_MARKER}<img src=x onerror=alert(1)>"))
display(Markdown({SCRIPT_LINKS!r}))
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


# In every answer cell: the set-up's test helpers as no-ops, and answers that solve nothing.
NO_OP_HELPERS = """
assert_tensor_close = assert_raises = lambda *args, **kwargs: None
def sigmoid(z):
    return z
sigmoid_grad = mse_loss = mse_grad = mlp_forward = sigmoid
def gradient_descent_step(X, y, w, b, lr):
    return w, b
"""

# Folders nested 1,500 deep in the kernel's channel folder, the only grader folder it can write.
NESTED_FOLDERS = """
import os, sys
os.chdir(os.path.dirname(sys.argv[sys.argv.index("-f") + 1]))
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
"""


def with_setup(release, change):
    """``hostile(release, NO_OP_HELPERS)`` with its set-up cell changed by ``change(nb, setup_cell)``."""
    nb = hostile(release, NO_OP_HELPERS)
    change(nb, next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "setup"))
    return nb


def _move_to_the_end(nb, cell):
    nb.cells.remove(cell)
    nb.cells.append(cell)


def _unmark(nb, cell):
    del cell.metadata["nbgrader"]


def _rename(nb, cell):
    cell.metadata["nbgrader"]["grade_id"] = "my_setup"


SETUP_CHANGES = {"moved": _move_to_the_end, "unmarked": _unmark, "renamed": _rename}


def many_cells(nb, count: int = 20_000) -> str:
    """``nb`` as compact JSON with ``count`` more cells, every other one a copy of a test cell."""
    test = next(c for c in nb.cells if c.metadata["nbgrader"].get("grade"))
    extra = [{"cell_type": "raw", "id": f"x{i}", "metadata": dict(test.metadata) if i % 2 else {}, "source": ""}
             for i in range(count)]
    data = nbformat.from_dict(nb)
    data.cells = [*map(dict, data.cells), *extra]
    return json.dumps(data)


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


def looks_outside(socket_path) -> str:
    """What the old sandbox left in sight: another clone's solutions (hidden tests), /etc/shadow,
    the grader's home, and a Unix socket listening on a path it showed read-only."""
    return f"""
import os, socket
def _reach(what, action):
    try:
        action()
        print(what, "reached")
    except OSError as error:
        print(what, type(error).__name__)
def _send():
    client = socket.socket(socket.AF_UNIX)
    client.connect({str(socket_path)!r})
    client.sendall(b"from the sandbox")
_reach("other clone:", lambda: open({str(REPO / 'solutions' / EX / f'{EX}.ipynb')!r}).read())
_reach("socket:", _send)
_reach("shadow:", lambda: open("/etc/shadow").read())
print("uid:", os.getuid())
print("home:", sorted(os.listdir({str(Path.home())!r})) if os.path.isdir({str(Path.home())!r}) else [])
print("root:", sorted(os.listdir("/")))
"""


@contextmanager
def unix_listener(path: Path):
    """A Unix socket listening at ``path``; yields the list of what connections sent."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    server.settimeout(0.2)
    received, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except socket.timeout:
                continue
            with connection:
                received.append(connection.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join()
        server.close()
        path.unlink()


def _cgroup_problem() -> str:
    mode = detect(f"probe-{RUN_ID}")
    remove_parents(mode)
    return "" if mode.kind else mode.why_not


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course = make_course(root)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("".join(f"\nc.Sandbox.{name} = {value!r}" for name, value in LIMITS.items()) + "\n")
    assert instructor(course, "release", EX).returncode == 0
    problem = _sandbox_problem(course)
    # As root, kernels run as nobody where nobody can run the sandbox (else as root, with a warning).
    as_nobody = os.geteuid() == 0 and not _sandbox_problem(course, as_user=True)
    kernel_uid = pwd.getpwnam("nobody").pw_uid if as_nobody else os.getuid()
    cgroup_problem = _cgroup_problem()
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    sentinels = [course / f"PWNED-{RUN_ID}", root / f"PWNED-{RUN_ID}", course / "submitted" / f"PWNED-{RUN_ID}"]
    (REPO / ".pytest_cache").mkdir(exist_ok=True)  # git-ignored, and outside the course graded
    listening = REPO / ".pytest_cache" / f"hostile-{RUN_ID}.sock"

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
    unparsable = nbformat.from_dict(release)  # Python's parser runs out of stack (MemoryError)
    next(c for c in unparsable.cells if c.metadata["nbgrader"].get("solution")).source = "-" * 100_000 + "1"
    submit(course, "j_unparsable_answer", EX, unparsable)
    submit(course, "i_processes_memory_disk", EX, hostile(release, BACKGROUND + MEMORY_AND_DISK))
    submit(course, "k_output_flood_and_html", EX, hostile(release, OUTPUT_FLOOD + HTML_INJECTION,
                                                          markdown=XSS_MARKER + '<img src=x onerror="alert(1)">\n\n'
                                                          + SCRIPT_LINKS))
    submit(course, "m_exfiltrates_hidden_tests", EX, hostile(release, EXFILTRATE))
    submit(course, "o_ignores_interrupts", EX, hostile(release, IGNORES_INTERRUPT))
    submit(course, "s_self_restoring_patch", EX, hostile(release, SELF_RESTORING_PATCH))
    traced = solved(release, source)
    answer = next(c for c in traced.cells if c.metadata["nbgrader"].get("solution") and c.cell_type == "code")
    answer.source += "\n" + TRACE_HOOK
    submit(course, "t_trace_hook_while_tested", EX, traced)
    if not cgroup_problem:  # without a control group these would hold 4.5 GiB and 600 processes
        submit(course, "p_forked_memory", EX, hostile(release, FORKED_MEMORY))
        submit(course, "q_process_flood", EX, hostile(release, PROCESS_FLOOD))
    if not problem:  # without the sandbox the working folder is on the grader's disk
        submit(course, "r_fills_the_disk", EX, hostile(release, DISK_FILL))
    if not problem:  # without the sandbox these would really damage the course
        attack = hostile(release, course_attack(course, sentinels) + looks_outside(listening))
        attack.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
        path = submit(course, "n_attacks_the_course", EX, attack)
        startup = path.parent / ".ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-cheat.py").write_text("assert_tensor_close = lambda *a, **k: None\n")
        (path.parent / "utils.py").write_text("raise SystemExit('shadowed')\n")
    submit(course, "u_setup_moved_helpers_no_ops", EX, with_setup(release, _move_to_the_end))
    unmatched = solved(release, source)
    for cell in unmatched.cells:
        if cell.metadata["nbgrader"].get("solution"):
            del cell.metadata["nbgrader"]
    submit(course, "v_answers_unmarked", EX, unmatched)
    linked = course / "submitted" / "w_links_to_the_solution" / EX
    linked.mkdir(parents=True)
    (linked / f"{EX}.ipynb").symlink_to(course / "solutions" / EX / f"{EX}.ipynb")
    (course / "submitted" / "w_folder_links_to_solutions").mkdir()
    (course / "submitted" / "w_folder_links_to_solutions" / EX).symlink_to(course / "solutions" / EX)
    huge = nbformat.from_dict(release)
    huge.cells[0].source += "\n" + "x" * (5 * 1024 ** 2)
    submit(course, "x_too_large", EX, huge)
    submit(course, "y_many_cells_nests_folders", EX, raw=many_cells(hostile(release, NESTED_FOLDERS)))
    submit(course, "z_solution_last", EX, solved(release, source))
    submit(course, "\x1b[2J\x1b]0;owned\x07,=1+2", EX, raw="not a notebook")  # an id a student could choose

    before = _fingerprint(course)
    tmp = root / "tmp"  # where the grading folder is made
    tmp.mkdir()
    with unix_listener(listening) as received:
        run = subprocess.run([sys.executable, "-m", "instructor", "autograde", EX, "-j", "2", "--cell-timeout",
                              str(CELL_TIMEOUT)], cwd=course, capture_output=True, text=True, timeout=1800,
                             env={**os.environ, "TMPDIR": str(tmp)})
    feedback = instructor(course, "feedback", EX)
    return SimpleNamespace(course=Course.load(course), run=run, feedback=feedback, before=before, problem=problem,
                           sentinels=sentinels, cgroup_problem=cgroup_problem, tmp=tmp, release=release,
                           received=received, kernel_uid=kernel_uid)


def _fingerprint(course) -> dict[str, str]:
    """Every course file except grading results, by content hash."""
    return {str(p.relative_to(course)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(course.rglob("*"))
            if p.is_file() and p.relative_to(course).parts[0] not in ("autograded", "feedback")
            and p.name not in ("gradebook.db", "gradebook.db-journal")}


def _scores(course: Course) -> dict[str, float]:
    with Gradebook(course.db_url) as gradebook:
        return {s.student.id: s.code_score for s in gradebook.assignment_submissions(EX)}


def _lines(run) -> dict[str, str]:
    return {line.split()[0]: line for line in run.stdout.splitlines() if line and not line.startswith(" ")}


def _output(course: Course, student: str) -> str:
    """Everything the student's autograded notebook printed."""
    nb = nbformat.read(course.folder("autograded") / student / EX / f"{EX}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_solutions_get_full_marks_first_and_last(hostile_class):
    course, run = hostile_class.course, hostile_class.run
    scores = _scores(course)
    assert scores["a_solution_first"] == 8 and scores["z_solution_last"] == 8, run.stdout + run.stderr


def test_release_and_every_hostile_submission_score_zero(hostile_class):
    course, run = hostile_class.course, hostile_class.run
    scores = _scores(course)
    students = [p.name for p in course.folder("submitted").iterdir() if p.is_dir()]
    for student in students:
        if "solution" not in student and student != "t_trace_hook_while_tested":
            assert scores.get(student, 0) == 0, f"{student} earned {scores[student]}\n{run.stdout}"


def test_a_hook_set_while_a_test_runs_fails_that_test(hostile_class):
    """The trace function is gone when the test ends, and the answer is right: the test still fails."""
    course, run = hostile_class.course, hostile_class.run
    assert _scores(course)["t_trace_hook_while_tested"] == 6, run.stdout
    report = (course.folder("autograded") / f"review-{EX}.txt").read_text()
    assert "settrace called while the test ran" in report.split("t_trace_hook_while_tested\n")[1], report


def test_the_run_prints_the_limits_in_force(hostile_class):
    run, problem, cgroup_problem = hostile_class.run, hostile_class.problem, hostile_class.cgroup_problem
    assert "limits per student:" in run.stdout
    whole = "memory: 2048 MiB for the whole sandbox" in run.stdout
    assert whole == (not cgroup_problem), run.stdout
    assert ("disk: 100 MiB working folder" in run.stdout) == (not problem), run.stdout


def test_a_kernel_that_ignores_the_interrupt_is_killed_within_seconds(hostile_class):
    """Without the kill it would run to the notebook limit and fail for that reason instead."""
    run = hostile_class.run
    line = _lines(run)["o_ignores_interrupts"]
    assert "failed" in line and f"past its {CELL_TIMEOUT} s limit and ignored the interrupt" in line, line
    assert "its kernel was killed" in line, line


def test_memory_and_processes_are_limited_per_student(hostile_class):
    course, run, cgroup_problem = hostile_class.course, hostile_class.run, hostile_class.cgroup_problem
    if cgroup_problem:
        pytest.skip(f"no control group can be made here: {cgroup_problem}")
    lines = _lines(run)
    if "failed" in lines["p_forked_memory"]:  # the kernel itself was the one killed
        assert "out of memory" in lines["p_forked_memory"], lines["p_forked_memory"]
    else:
        held = int(re.search(r"children that held 1.5 GiB: (\d) of 3", _output(course, "p_forked_memory"))[1])
        assert held <= 1, f"{held} processes held 1.5 GiB each under a 2 GiB limit"
    started = re.search(r"processes started: (\d+) of 600", _output(course, "q_process_flood"))
    assert started and int(started[1]) < LIMITS["max_processes"], _output(course, "q_process_flood")[-500:]


def test_disk_is_limited_per_student(hostile_class):
    course, problem = hostile_class.course, hostile_class.problem
    if problem:
        pytest.skip(f"bubblewrap cannot run here, so there is no size-limited working folder: {problem}")
    written = re.search(r"megabytes written: (\d+) of 300", _output(course, "r_fills_the_disk"))
    assert written and int(written[1]) <= LIMITS["disk_mb"], _output(course, "r_fills_the_disk")[-500:]


def test_broken_submissions_fail_clearly_and_the_run_goes_on(hostile_class):
    course, run = hostile_class.course, hostile_class.run
    assert run.returncode == 1, run.stdout + run.stderr
    lines = _lines(run)
    assert "not a valid notebook" in lines["c_invalid_json"]
    assert "kernel died" in lines["h_kills_kernel"]
    assert "graded  0 / 8" in lines["d_pasted_and_deleted_tests"]
    assert "flagged for review" in run.stdout
    assert "z_solution_last" in _scores(course)


def test_tampering_is_flagged_for_review(hostile_class):
    course = hostile_class.course
    report = (course.folder("autograded") / f"review-{EX}.txt").read_text()
    for student, expected in [("d_pasted_and_deleted_tests", "deleted or unmarked cells: test_mse"),
                              ("d_pasted_and_deleted_tests", "cell test_sigmoid appears 2 times"),
                              ("u_setup_moved_helpers_no_ops", "moved out of the release's order"),
                              ("e_ipython_hooks", "adds an AST transformer"),
                              ("e_ipython_hooks", "the test guard undid"),
                              ("f_fake_tensor", "defines __torch_function__"),
                              ("g_patches_during_tests", "monkeypatching"),
                              ("s_self_restoring_patch", "monkeypatching")]:
        section = report.split(f"{student}\n")[1].split("\n\n")[0]
        assert expected in section, f"{student}: {expected!r} not in the report:\n{report}"
    assert "a_solution_first\n" not in report and "z_solution_last\n" not in report, report


# ---- the release's structure is graded, with only the answers taken from the submission --------

def test_a_moved_set_up_cell_and_no_op_helpers_earn_nothing(hostile_class):
    """Graded as submitted (set-up last, helpers as no-ops in the first answer) this scored 8 / 8."""
    course, run = hostile_class.course, hostile_class.run
    assert "graded  0 / 8" in _lines(run)["u_setup_moved_helpers_no_ops"], run.stdout
    nb = nbformat.read(course.folder("autograded") / "u_setup_moved_helpers_no_ops" / EX / f"{EX}.ipynb", 4)
    assert [c.metadata["nbgrader"]["grade_id"] for c in nb.cells] == [
        c.metadata["nbgrader"]["grade_id"] for c in hostile_class.release.cells]


@pytest.mark.parametrize("change", sorted(SETUP_CHANGES))
def test_the_graded_notebook_is_the_release_with_the_answers_only(hostile_class, change):
    """A moved, unmarked or renamed set-up cell changes nothing in what is graded: the source's
    cells in the source's order (tests with their hidden part), the student's answers in them."""
    submission = with_setup(hostile_class.release, SETUP_CHANGES[change])
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in submission.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    graded, notes = assemble(load_templates(hostile_class.course, EX)[EX], nbformat.writes(submission).encode())
    assert notes, "the change is reported for review"
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    for built, expected in zip(graded.cells, source.cells, strict=True):
        gid = expected.metadata["nbgrader"]["grade_id"]
        assert built.metadata["nbgrader"]["grade_id"] == gid
        assert built.source == answers.get(gid, expected.source), gid


def test_answers_that_cannot_be_matched_fail_with_the_reason(hostile_class):
    line = _lines(hostile_class.run)["v_answers_unmarked"]
    assert "failed" in line and "cannot be matched to the release: no answer cell with grade id sigmoid" in line


# ---- no submission stalls or blinds the run ---------------------------------------------------

def test_symbolic_links_are_not_followed(hostile_class):
    """Followed, the first scored 8 / 8 with the full solution in its graded copy."""
    lines = _lines(hostile_class.run)
    assert "failed  ex01_foundations.ipynb is a symbolic link" in lines["w_links_to_the_solution"]
    assert "failed  folder ex01_foundations is a symbolic link" in lines["w_folder_links_to_solutions"]
    assert "w_links_to_the_solution" not in _scores(hostile_class.course)


def test_a_notebook_far_larger_than_the_release_is_refused_unread(hostile_class):
    line = _lines(hostile_class.run)["x_too_large"]
    assert "failed" in line and "more than the 4 MiB a submitted file may have: not read" in line, line


def test_many_cells_and_deeply_nested_folders_neither_stall_nor_blind_the_run(hostile_class):
    """20,000 cells are graded as the release's 16; 1,500 folders nested in the kernel's channel
    folder once made the final clean-up raise RecursionError, losing the summary and the review."""
    course, run = hostile_class.course, hostile_class.run
    assert "graded  0 / 8" in _lines(run)["y_many_cells_nests_folders"], run.stdout + run.stderr
    nb = nbformat.read(course.folder("autograded") / "y_many_cells_nests_folders" / EX / f"{EX}.ipynb", 4)
    assert len(nb.cells) == len(hostile_class.release.cells)
    assert f"{EX}: " in run.stdout and "graded," in run.stdout, run.stdout  # the summary
    assert "RecursionError" not in run.stderr and "could not remove" not in run.stderr, run.stderr
    assert (course.folder("autograded") / f"review-{EX}.txt").exists()
    assert not list(hostile_class.tmp.glob("course-grading-*")), "the grading folder (hidden tests) is left"


def test_an_answer_the_scan_cannot_read_is_flagged_not_fatal(hostile_class):
    """Raised while preparing, in the grader's own process, the parser's MemoryError once ended
    the run with no summary."""
    course, run = hostile_class.course, hostile_class.run
    assert "graded  0 / 8" in _lines(run)["j_unparsable_answer"], run.stdout + run.stderr
    report = (course.folder("autograded") / f"review-{EX}.txt").read_text()
    assert "does not parse (MemoryError)" in report.split("j_unparsable_answer\n")[1].split("\n\n")[0], report


def test_the_scan_reports_what_it_cannot_parse(monkeypatch):
    """Python's parser runs out of stack on deep nesting; IPython's transformers give up
    (RuntimeError) on a cell of more than TRANSFORM_LOOP_LIMIT (500) `!` lines."""
    assert scan_source("-" * 100_000 + "1") == ["does not parse (MemoryError), so it was not scanned"]
    monkeypatch.setattr(inputtransformer2, "TRANSFORM_LOOP_LIMIT", 5)  # 500 would take seconds
    assert scan_source("\n".join(["!true"] * 6)) == ["does not parse (RuntimeError), so it was not scanned"]


def test_read_regular_refuses_links_special_files_and_large_files(tmp_path):
    (tmp_path / "s" / "a").mkdir(parents=True)
    (tmp_path / "s" / "a" / "ok.ipynb").write_text("{}")
    assert read_regular(tmp_path, "s", "a", "ok.ipynb", limit=2) == b"{}"
    with pytest.raises(UnsafeFile, match="more than"):
        read_regular(tmp_path, "s", "a", "ok.ipynb", limit=1)
    (tmp_path / "s" / "a" / "link.ipynb").symlink_to(tmp_path / "s" / "a" / "ok.ipynb")
    (tmp_path / "s" / "b").symlink_to(tmp_path / "s" / "a")
    os.mkfifo(tmp_path / "s" / "a" / "fifo.ipynb")  # opening it blocks, unless opened without blocking
    for parts, reason in [(("a", "link.ipynb"), "symbolic link"), (("b", "ok.ipynb"), "folder b is a symbolic link"),
                          (("a", "fifo.ipynb"), "not a regular file"), (("a", "none.ipynb"), "missing")]:
        with pytest.raises(UnsafeFile, match=reason):
            read_regular(tmp_path, "s", *parts, limit=100)


def test_remove_tree_removes_deep_unreadable_folders_and_never_follows_links(tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file").write_text("mine")
    root, here = tmp_path / "root", os.getcwd()
    root.mkdir()
    os.chdir(root)
    try:
        for _ in range(1200):  # deeper than rmtree can recurse, and 6,000 characters: past PATH_MAX
            os.mkdir("dddd")
            os.chdir("dddd")
    finally:
        os.chdir(here)
    (root / "dddd" / "link").symlink_to(keep)
    (root / "locked").mkdir()
    (root / "locked" / "x").write_text("")
    (root / "locked").chmod(0)
    remove_tree(root)
    assert not root.exists() and (keep / "file").read_text() == "mine"


def test_course_files_are_unchanged(hostile_class):
    course, before = hostile_class.course, hostile_class.before
    assert _fingerprint(course.root) == before


def test_no_process_outlives_grading(hostile_class):
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"]) if DAEMON_MARKER in " ".join(p.info["cmdline"] or [])]
    assert not leftovers


def test_nothing_is_written_outside_the_students_folder(hostile_class):
    course, run, problem, sentinels = (hostile_class.course, hostile_class.run, hostile_class.problem,
                                      hostile_class.sentinels)
    if problem:
        pytest.skip(f"bubblewrap cannot run here, graded with resource limits only: {problem}")
    assert not [p for p in sentinels if p.exists()]
    assert "sandboxed" in run.stdout and "NOT sandboxed" not in run.stdout
    assert _scores(course)["n_attacks_the_course"] == 0


def test_the_sandbox_shows_nothing_it_does_not_need(hostile_class):
    """Another clone's solutions/ (hidden tests), /etc/shadow, the grader's home and a Unix socket
    listening outside were all in sight of the old sandbox, which hid a few folders of a
    read-only copy of the whole machine; this one starts empty."""
    course, run, problem = hostile_class.course, hostile_class.run, hostile_class.problem
    if problem:
        pytest.skip(f"bubblewrap cannot run here, graded with resource limits only: {problem}")
    assert "what each kernel sees (read-only, from an empty file system)" in run.stdout, run.stdout
    printed = _output(course, "n_attacks_the_course")
    for what in ("other clone:", "socket:", "shadow:"):
        lines = {line for line in printed.splitlines() if line.startswith(what)}
        assert lines == {f"{what} FileNotFoundError"}, f"{what} {lines}"
    assert hostile_class.received == [], "the socket outside received data from the sandbox"
    assert f"uid: {hostile_class.kernel_uid}\n" in printed, printed[-2000:]
    if os.geteuid() == 0:  # a root grader's kernels run as nobody, or it says they do not
        assert ("kernels run as user nobody" in run.stdout) == (hostile_class.kernel_uid != 0), run.stdout
        assert ("WARNING: kernels run as ROOT" in run.stderr) == (hostile_class.kernel_uid == 0), run.stderr

    def listed(what: str) -> set[str]:
        return set(ast.literal_eval(next(line for line in printed.splitlines() if line.startswith(what))[len(what):]))

    bound = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), course.root]  # parents of what is bound
    assert listed("root: ") <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr",
                                *(p.parts[1] for p in bound)}, printed[-2000:]
    home = Path.home().resolve()
    assert listed("home: ") <= {p.relative_to(home).parts[0] for p in bound if p.is_relative_to(home)}, printed[-2000:]


def test_student_ids_reach_the_terminal_escaped(hostile_class):
    run = hostile_class.run
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout + run.stderr
    assert "\\x1b[2J\\x1b]0;owned\\x07,=1+2" in run.stdout


def test_without_the_sandbox_grading_says_so_loudly(hostile_class):
    run, problem = hostile_class.run, hostile_class.problem
    if not problem:
        pytest.skip("not this machine's path: bubblewrap runs here; test_without_bwrap_grading_warns_or_refuses tests the fallback")
    assert "WARNING: grading WITHOUT a sandbox" in run.stderr


def test_outputs_are_capped(hostile_class):
    course = hostile_class.course
    autograded = course.folder("autograded") / "k_output_flood_and_html" / EX / f"{EX}.ipynb"
    assert autograded.stat().st_size < 1_000_000
    assert (course.folder("feedback") / "k_output_flood_and_html" / EX / f"{EX}.html").stat().st_size < 2_000_000


def test_feedback_shows_no_hidden_test_and_no_active_html(hostile_class):
    course, feedback = hostile_class.course, hostile_class.feedback
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
        assert not script_addresses(text), path
    assert "msgbox(3)" in (course.folder("feedback") / "k_output_flood_and_html" / EX / f"{EX}.html").read_text()
    for path in course.folder("autograded").glob(f"*/{EX}/*.ipynb"):  # what formgrader renders
        nb = nbformat.read(path, as_version=4)
        rendered = [c.source for c in nb.cells if c.cell_type == "markdown"] + [
            str(o.data) for c in nb.cells for o in c.get("outputs", []) if "data" in o]
        for text in rendered:
            assert XSS_MARKER not in text and not re.search(r"<img[^>]*onerror", text, re.I), path
        markdown = [c.source for c in nb.cells if c.cell_type == "markdown"] + [
            o.data["text/markdown"] for c in nb.cells for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
        assert not [m for m in markdown if script_addresses(markdown2html_mistune(m))], path


def test_formgrader_shows_no_live_script_link(hostile_class):
    """The manual grading view, rendered as formgrader's handler renders it."""
    course = hostile_class.course
    exporter = HTMLExporter(config=course.config, template_name="formgrade",
                            extra_template_basedirs=[formgrader_handlers.template_path])
    resources = {"assignment_id": EX, "notebook_id": EX, "submission_id": "0", "index": 0, "total": 1, "base_url": "",
                 "student": "k", "last_name": None, "first_name": None, "notebook_path": "k"}
    page, _ = exporter.from_filename(str(course.folder("autograded") / "k_output_flood_and_html" / EX / f"{EX}.ipynb"),
                                     resources=resources)
    assert "msgbox(3)" in page and not script_addresses(page)


def script_addresses(page: str) -> list[str]:
    """Link and image addresses of ``page`` (HTML) that run script or hold a document, as a browser
    reads them (entities decoded, spaces and control characters ignored, any case)."""
    found = []

    class Links(HTMLParser):
        def handle_starttag(self, tag, attrs):
            for name, value in attrs:
                address = re.sub(r"[\x00-\x20]+", "", value or "").lower()
                if name in ("href", "src") and re.match(r"(javascript|vbscript|data:text/html)", address):
                    found.append(value)

    Links().feed(page)
    return found


def test_no_line_the_release_shows_counts_as_a_hidden_test():
    """Such a line is in every feedback file (in the visible test that shows it), and once made
    `feedback ex09_scaling_up` refuse the whole class."""
    for assignment in assignments():
        source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
        release = nbformat.read(REPO / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)
        shown = "\n".join(cell.source for cell in release.cells)
        assert not [line for line in hidden_lines(source) if line in shown], assignment


def test_without_bwrap_grading_warns_or_refuses(hostile_class, tmp_path):
    """The fallback: with no usable bwrap, --require-sandbox refuses; otherwise grading goes on,
    with resource limits only, and says so loudly."""
    course = tmp_path / "course"
    shutil.copytree(hostile_class.course.root, course,
                    ignore=shutil.ignore_patterns("autograded", "feedback", "submitted"))
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


# ---- a second run: preparing is bounded by the per-notebook limit; a root grader without its user

SECOND_RUN_TIMEOUT = 60  # seconds per notebook: the solution, graded first, takes about 15


def slow_to_prepare(release, megabytes: int):
    """``release`` with an answer of 499 `!` lines, ``megabytes`` MB in all: IPython's transformers
    read the whole cell again for each of them, so scanning it takes about 8 s per MB."""
    nb = nbformat.from_dict(release)
    line = "x = !true " + "#" * (megabytes * 10 ** 6 // 499)
    next(c for c in nb.cells if c.metadata["nbgrader"].get("solution")).source = "\n".join([line] * 499)
    return nb


@pytest.fixture(scope="module")
def second_run(hostile_class, tmp_path_factory):
    """The class's course (copied, without its submissions) with a 60 s limit per notebook and
    ``c.Sandbox.user`` naming no user, grading one submission that takes minutes to prepare."""
    course = tmp_path_factory.mktemp("second") / "course"
    shutil.copytree(hostile_class.course.root, course,
                    ignore=shutil.ignore_patterns("autograded", "feedback", "submitted"))
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.Sandbox.notebook_timeout = {SECOND_RUN_TIMEOUT}\nc.Sandbox.max_notebook_mb = 12\n"
                     "c.Sandbox.user = 'no-such-user'\n")
    submit(course, "slow_to_prepare", EX, slow_to_prepare(hostile_class.release, 10))
    return SimpleNamespace(course=course, run=instructor(course, "autograde", EX))


def test_a_submission_slow_to_prepare_fails_alone_at_the_notebook_limit(second_run):
    """Prepared in the grader's own process, it held the whole class for minutes. Now it fails at
    the per-notebook limit: while being prepared (about 8 s per MB here), or, on a machine fast
    enough to prepare it in time, while its 499 shell lines run."""
    run = second_run.run
    line = _lines(run)["slow_to_prepare"]
    assert (f"failed  the submission took longer than {SECOND_RUN_TIMEOUT} s to prepare" in line
            or f"failed  {EX}.ipynb ran longer than {SECOND_RUN_TIMEOUT} s" in line), run.stdout + run.stderr
    assert f"{EX}: 0 graded, 1 failed" in run.stdout, run.stdout


def test_preparing_a_submission_is_bounded_by_the_notebook_limit(second_run, tmp_path):
    """The bound itself, with a limit of 1 s that no machine prepares the slow submission within."""
    from instructor.grading import prepare_bounded

    course = Course.load(second_run.course)
    sandbox = Sandbox(config=course.config)
    sandbox.notebook_timeout = 1
    outcome = prepare_bounded(course, load_templates(course, EX), "slow_to_prepare", tmp_path / "job", sandbox,
                              (course.folder("submitted"), "slow_to_prepare", EX))
    assert getattr(outcome, "status", None) == "failed", outcome
    assert "the submission took longer than 1 s to prepare" in outcome.reason, outcome.reason


def test_a_root_grader_says_when_its_kernels_run_as_root(hostile_class, second_run):
    """As root, kernels run as c.Sandbox.user (--grade-as); when it cannot be used the run warns,
    and --require-sandbox refuses."""
    if os.geteuid():
        pytest.skip("not this machine's path: the grader is not root, so its kernels run as its own user")
    if hostile_class.problem:
        pytest.skip(f"bubblewrap cannot run here: {hostile_class.problem}")
    run = second_run.run
    assert "WARNING: kernels run as ROOT (there is no user 'no-such-user'" in run.stderr, run.stderr
    assert "kernels run as ROOT (uid 0, without capabilities" in run.stdout, run.stdout
    refused = instructor(second_run.course, "autograde", EX, "--grade-as", "also-missing", "--require-sandbox")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refusing to grade: kernels would run as root (there is no user 'also-missing'" in refused.stderr


# ---- formgrader's manual grading view, in a browser -------------------------------------------

# Every attribute of the page that holds an address, as [tag, attribute, value] (entities decoded).
ADDRESSES = """() => [...document.querySelectorAll('*')].flatMap(element => [...element.attributes]
    .filter(attribute => /^(href|src|srcset|action|formaction|data|poster|xlink:href)$/i.test(attribute.name))
    .map(attribute => [element.tagName.toLowerCase(), attribute.name.toLowerCase(), attribute.value]))"""


def runs_script(tag: str, name: str, value: str) -> bool:
    """Whether an address runs script or opens a document (a browser ignores controls and spaces in
    it); a data: image is only an image."""
    address = re.sub(r"[\x00-\x20]+", "", value).lower()
    image = tag == "img" and name == "src" and address.startswith("data:image/")
    return address.startswith(("javascript:", "vbscript:")) or (address.startswith("data:") and not image)


@pytest.mark.browser
def test_formgrader_in_the_browser_shows_no_live_script_link(hostile_class, tmp_path):
    """Chromium on the manual grading view of the written answer with script links, from a
    JupyterLab serving a copy of the graded course: the answer is on the page, as text; no
    element has a script or document address; no script ran (alert() opens a dialog)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright is not installed (pip install playwright)")
    course = tmp_path / "course"
    shutil.copytree(hostile_class.course.root, course, symlinks=True)
    with Gradebook(Course.load(course).db_url) as gradebook:
        submission = gradebook.find_submission_notebook(EX, EX, "k_output_flood_and_html").id
    dialogs = []
    with jupyter_lab(course) as base, sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        tab = chromium.new_page()
        tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base) else route.abort())
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.goto(f"{base}formgrader/submissions/{submission}/?index=0", wait_until="networkidle")
        text = tab.inner_text("body")
        addresses = tab.evaluate(ADDRESSES)
        chromium.close()
    assert len(addresses) > 5, addresses  # the page's own links and scripts
    live = [address for address in addresses if runs_script(*address)]
    assert not live and not dialogs, (live, dialogs)
    assert "msgbox(3)" in text, text[-3000:]  # the answer, shown as text
