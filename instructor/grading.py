"""``python -m instructor autograde``: grade a class, each student on its own, in parallel.

Before anyone, the source notebook (the instructor's solution) is graded in the same sandbox:
if it does not pass every test, the grading environment is broken (the kernel cannot import the
course's helpers, a limit is too tight) and the run stops before it records anything.

For every student, in three steps, ``-j`` students at a time:

1. **prepare** (a process of its own, which may take ``c.Sandbox.notebook_timeout`` per
   notebook): read the notebook (a regular file, not a link, not larger than
   ``c.Sandbox.max_notebook_mb``), build the notebook to grade from the release with only the
   student's answers in it (:mod:`instructor.assemble`), scan the answers for code that
   touches the interpreter (:mod:`instructor.scan`), and write the result into a private
   working folder; a preparation that fails or runs out of time fails that student only;
2. **execute** (a worker process per notebook): run the notebook in a jailed kernel
   (:mod:`instructor.worker`, :mod:`instructor.sandbox`); a worker that fails or runs past
   ``c.Sandbox.notebook_timeout`` fails that student only;
3. **record** (here again, as each worker finishes, so the gradebook has a single writer):
   nbgrader's ``SaveAutoGrades`` and late-penalty preprocessors on the executed notebook, which
   is then stored in ``autograded/``.

The run ends with a summary of who was graded, who failed and why, and who is flagged for
review; the flags are written to ``autograded/review-<assignment>.txt``. Both are written before
the grading folder is removed (:func:`instructor.files.remove_tree`), and each student's folder
is removed as soon as the student is recorded.

``--shard K/N`` grades the students whose name hashes to slice K of N, so that N machines
sharing one gradebook (``NBGRADER_DB_URL`` pointing at PostgreSQL) grade a class together; each
student has a single writer, and a recording that meets a concurrent writer is retried.
"""
import hashlib
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import DBAPIError, SAWarning
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, OverwriteCells,
                                    SaveAutoGrades)
from nbgrader.utils import parse_utc

from .assemble import SetupError, Template, Unmatched, assemble, load_templates
from .course import Course
from .files import MiB, UnsafeFile, printable, read_regular, remove_tree
from .kernel import is_test_cell
from .limits import Cgroup, CgroupMode, detect, remove_parents, to_spec
from .sandbox import (KERNELS_AS_ROOT, MISSING_PROTECTION, Sandbox, describe_visible, find_bwrap, kernel_user,
                      sandbox_problem)
from .scan import scan_notebook
from . import worker
from .worker import end_leftover_processes

# Workers fork from a server that has imported instructor.grading and .worker (nbgrader, nbclient) once.
WORKERS = multiprocessing.get_context("forkserver")
WORKERS.set_forkserver_preload(["instructor.grading", "instructor.worker"])

# The assembled notebook takes each cell's metadata (points, checksum) from the gradebook too.
SANITIZE = (OverwriteCells, CheckCellMetadata)
RECORD = (IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties)


@dataclass
class Outcome:
    student: str
    status: str  # "graded" or "failed"
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    flags: list[str] = field(default_factory=list)


@dataclass
class Job:
    """One student's grading: where its files are, and what preparing it found."""

    student: str
    folder: Path  # private to this student; only folder/work is visible to its kernel
    notebooks: list[str]  # notebook names (without .ipynb)
    flags: list[str]
    timestamp: str = ""  # the submission's timestamp.txt, where it has a valid one
    marker: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def workdir(self) -> Path:
        return self.folder / "work"

    @property
    def channel(self) -> Path:
        return self.folder / "channel"


def in_shard(student: str, shard: tuple[int, int]) -> bool:
    """Whether ``student`` is in slice K of N (1-based): the same answer on every machine."""
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k - 1


def autograde(course: Course, assignment: str, students: list[str], cell_timeout: int | None, jobs: int | None,
              require_sandbox: bool, shard: tuple[int, int] = (1, 1)) -> int:
    """Grade every submission of ``assignment``; print one line per student and a summary."""
    students = students or course.students(assignment)
    if not students:
        print(f"no submissions for {assignment} in {course.folder('submitted')}", file=sys.stderr)
        return 1
    if shard != (1, 1):
        everyone = len(students)
        students = [s for s in students if in_shard(s, shard)]
        print(f"shard {shard[0]}/{shard[1]}: {len(students)} of {everyone} students", flush=True)
        if not students:
            return 0
    if not _released(course, assignment):
        print(f"{assignment} is not in the gradebook: run `python -m instructor release {assignment}` first",
              file=sys.stderr)
        return 1
    try:
        templates = load_templates(course, assignment)
    except SetupError as error:
        print(f"cannot grade {assignment}: {error}", file=sys.stderr)
        return 1
    sandbox = Sandbox(config=course.config)
    jobs = max(1, jobs or os.cpu_count() or 1)
    grading_root = Path(tempfile.mkdtemp(prefix="course-grading-"))
    cgroups = detect(str(os.getpid())) if sandbox.cgroups else CgroupMode("", why_not="c.Sandbox.cgroups is off")
    try:
        user, problem, as_root = _sandbox_and_user(sandbox, course, grading_root)
        if (problem or as_root) and (require_sandbox or sandbox.require):
            why = f"the sandbox cannot run ({problem})" if problem else f"kernels would run as root ({as_root})"
            print(f"refusing to grade: {why}", file=sys.stderr)
            return 1
        if problem:
            print(MISSING_PROTECTION.format(reason=problem, who=" (ROOT: all of this machine)" if os.geteuid() == 0
                                            else ""), file=sys.stderr, flush=True)
        elif as_root:
            print(KERNELS_AS_ROOT.format(reason=as_root), file=sys.stderr, flush=True)
        bwrap = None if problem else find_bwrap(sandbox)
        print(limits_in_force(sandbox, cgroups, bwrap, cell_timeout or course.config.Execute.get("timeout")),
              flush=True)
        if bwrap:
            print(describe_visible(sandbox, course.root, bwrap, user), flush=True)
        settings = {"course": str(course.root), "bwrap": bwrap, "threads": max(1, (os.cpu_count() or 1) // jobs),
                    "cell_timeout": cell_timeout, "cgroups": cgroups, "user": user and [user.name, user.uid, user.gid]}
        broken = check_environment(course, assignment, templates, grading_root, settings, sandbox)
        if broken:
            print(f"the grading environment is broken: {broken}\nnobody was graded: fix the environment (or the "
                  f"solution) and grade again", file=sys.stderr)
            return 1
        print(f"grading {len(students)} submissions of {assignment}, {jobs} at a time, "
              f"{'in the bubblewrap sandbox' if bwrap else 'WITHOUT a sandbox (resource limits only)'}", flush=True)
        outcomes = _grade_class(course, assignment, templates, students, grading_root, settings, sandbox, jobs)
        return _summarize(course, assignment, outcomes, sandboxed=bwrap is not None)
    finally:  # after the summary and the review file: a failure here cannot lose them
        _clean_up(grading_root, cgroups)


def _sandbox_and_user(sandbox: Sandbox, course: Course, grading_root: Path):
    """(whom kernels run as, why the sandbox cannot run, why a root grader's kernels run as root):
    the user is None for the grader's own user, the reasons '' when there is none."""
    try:
        user = kernel_user(sandbox)
    except LookupError as error:
        return None, sandbox_problem(sandbox, course.root, grading_root), str(error)
    problem = sandbox_problem(sandbox, course.root, grading_root, user)
    if not (problem and user):
        return user, problem, ""
    as_root = f"user {user.name} cannot run the sandbox: {problem}"
    problem = sandbox_problem(sandbox, course.root, grading_root)
    return None, problem, as_root


def _discard(folder: Path) -> None:
    try:
        remove_tree(folder)
    except OSError as error:  # left for the final clean-up, which says so if it fails too
        print(f"could not remove {folder} yet ({type(error).__name__}: {error})", file=sys.stderr)


def _clean_up(grading_root: Path, cgroups: CgroupMode) -> None:
    """Remove the grading folder (sanitized notebooks with the hidden tests) and the control groups."""
    try:
        remove_tree(grading_root)
    except OSError as error:
        print(f"WARNING: could not remove the grading folder {grading_root} ({type(error).__name__}: {error}); "
              f"it holds the hidden tests: remove it by hand", file=sys.stderr)
    remove_parents(cgroups)


def limits_in_force(sandbox: Sandbox, cgroups: CgroupMode, bwrap: str | None, cell_timeout) -> str:
    """What holds each student's kernel, one line per limit (printed at the start of a run)."""
    whole = f"for the whole sandbox ({cgroups.describe()})"
    lines = [f"memory: {sandbox.memory_mb} MiB " + (whole if cgroups.kind else
                                                   f"PER PROCESS only (RLIMIT_DATA; {cgroups.why_not})"),
             f"processes: {sandbox.max_processes} " + (whole if cgroups.kind else
                                                      "PER USER only (RLIMIT_NPROC, which does not hold for root)"),
             f"disk: {sandbox.disk_mb} MiB working folder and /dev/shm (tmpfs)" if bwrap else
             f"disk: {sandbox.file_size_mb} MiB PER FILE only (RLIMIT_FSIZE; no sandbox)",
             f"time: {sandbox.cpu_seconds} s CPU per process, {cell_timeout} s per cell (then interrupted, killed "
             f"after {sandbox.interrupt_grace:g} s more), {sandbox.notebook_timeout:g} s per notebook"]
    return "limits per student:\n" + "".join(f"  {line}\n" for line in lines)


def check_environment(course: Course, assignment: str, templates: dict[str, Template], grading_root: Path,
                      settings: dict, sandbox: Sandbox) -> str:
    """Grade the source notebook as a student in the same sandbox; '' when it passes every test,
    else which test failed and why."""
    job = prepare(course, templates, "(the solution)", grading_root / "solution", sandbox.max_notebook_mb,
                  (course.folder("source"), assignment))
    if isinstance(job, Outcome):
        return f"the solution could not be prepared: {job.reason}"
    problem = execute(job, settings, sandbox)
    if problem:
        return f"the solution failed: {problem}"
    for name in job.notebooks:
        nb = nbformat.read(job.folder / f"{name}.executed.ipynb", as_version=4)
        for cell in filter(is_test_cell, nb.cells):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors:
                return (f"the solution fails test cell {cell.metadata['nbgrader']['grade_id']} of {name}.ipynb "
                        f"({errors[0].ename}: {errors[0].evalue[:300]})")
    return ""


def _grade_class(course, assignment, templates, students, grading_root, settings, sandbox, jobs) -> list[Outcome]:
    outcomes = []
    with ThreadPoolExecutor(jobs) as pool:
        running = {pool.submit(_prepare_and_execute, course, assignment, templates, student,
                               grading_root / f"{index:04d}", settings, sandbox): grading_root / f"{index:04d}"
                   for index, student in enumerate(students)}
        for future in as_completed(running):
            result = future.result()
            outcome = record(course, assignment, result) if isinstance(result, Job) else result
            outcomes.append(_report(outcome))
            _discard(running[future])  # the student's hidden-test copy, channel folder and executed notebook
    order = {student: i for i, student in enumerate(students)}
    return sorted(outcomes, key=lambda o: order[o.student])


def _prepare_and_execute(course, assignment, templates, student, folder, settings, sandbox) -> "Job | Outcome":
    """Steps 1 and 2 for one student: the executed job, or the Outcome (failed) that stopped it."""
    prepared = prepare_bounded(course, templates, student, folder, sandbox,
                               (course.folder("submitted"), student, assignment))
    if isinstance(prepared, Outcome):
        return prepared
    problem = execute(prepared, settings, sandbox)
    return Outcome(student, "failed", problem, flags=prepared.flags) if problem else prepared


# ---- 1. prepare ------------------------------------------------------------------------------

def prepare_bounded(course: Course, templates: dict[str, Template], student: str, folder: Path, sandbox: Sandbox,
                    submitted: tuple) -> "Job | Outcome":
    """:func:`prepare` in a process of its own, given ``c.Sandbox.notebook_timeout`` per notebook:
    a submission that takes longer (IPython's transformers re-read a cell once per ``!`` line of
    it, up to 500 times) or makes preparing fail fails that student only."""
    limit = sandbox.notebook_timeout * len(templates)
    receive, send = WORKERS.Pipe(duplex=False)
    process = WORKERS.Process(target=_prepare_and_send, args=(send, course.root, templates, student, folder,
                                                              sandbox.max_notebook_mb, submitted))
    process.start()
    send.close()  # the worker holds the only writing end: its exit ends the wait
    try:
        result = receive.recv() if receive.poll(limit) else None
        timed_out = result is None
    except EOFError:  # the worker died without an answer
        result, timed_out = None, False
    finally:
        receive.close()
        process.kill()
        process.join()
    if result is None:
        return Outcome(student, "failed", f"the submission took longer than {limit:g} s to prepare for grading "
                                          f"(c.Sandbox.notebook_timeout): not graded" if timed_out else
                                          f"preparing the submission for grading crashed (exit code "
                                          f"{process.exitcode}): not graded")
    return result


def _prepare_and_send(send, course_root: Path, templates, student, folder, max_notebook_mb, submitted) -> None:
    try:
        result = prepare(Course.load(course_root), templates, student, folder, max_notebook_mb, submitted)
    except Exception as error:  # whatever the submission makes of a step, it fails this student only
        result = Outcome(student, "failed", f"could not be prepared for grading ({type(error).__name__}: "
                                            f"{str(error)[:150]})")
    send.send(result)

def prepare(course: Course, templates: dict[str, Template], student: str, folder: Path, max_notebook_mb: int,
            submitted: tuple) -> "Job | Outcome":
    """Build the notebooks to grade from the release and the answers found in the submission
    (``submitted``: a trusted folder, then the path below it) into ``folder``, with the
    assignment's files in ``folder/work``; an Outcome (failed) when that is impossible."""
    root, *below = submitted
    folder.mkdir(parents=True)
    (folder / "channel").mkdir()
    # Only the notebooks and the assignment's own files: nothing else a student put there (an
    # IPython startup file, a module shadowing torch) reaches the kernel.
    shutil.copytree(course.folder("source") / below[-1], folder / "work",
                    ignore=shutil.ignore_patterns("*.ipynb", *course.coursedir.ignore))
    job = Job(student, folder, [], [], timestamp=_timestamp(root, below))
    for name, template in templates.items():
        try:
            submission = read_regular(root, *below, f"{name}.ipynb", limit=max_notebook_mb * MiB)
            nb, differences = assemble(template, submission)
        except UnsafeFile as error:
            return Outcome(student, "failed", str(error).replace("/".join(below) + "/", ""))
        except Unmatched as error:
            return Outcome(student, "failed", f"{name}.ipynb {error}")
        resources = {"nbgrader": {"db_url": course.db_url, "assignment": below[-1], "notebook": name,
                                  "student": student}}
        try:
            for preprocessor in SANITIZE:
                nb, resources = preprocessor(config=course.config).preprocess(nb, resources)
        except Exception as error:
            return Outcome(student, "failed", f"{name}.ipynb could not be prepared for grading "
                                              f"({type(error).__name__}: {str(error)[:150]})")
        job.flags += [f"{name}: {note}" for note in differences]
        job.flags += [f"{name}: {finding}" for finding in scan_notebook(nb)]
        nbformat.write(nb, folder / f"{name}.ipynb")  # outside work/: the kernel never sees the hidden tests
        job.notebooks.append(name)
    return job


def _timestamp(root: Path, below: list[str]) -> str:
    """The submission's timestamp.txt (as nbgrader's exchange writes it), if it is a valid one."""
    try:
        text = read_regular(root, *below, "timestamp.txt", limit=1024).decode("utf-8").strip()
        parse_utc(text)
        return text
    except (UnsafeFile, UnicodeDecodeError, ValueError, OverflowError):
        return ""


def _released(course: Course, assignment: str) -> bool:
    with Gradebook(course.db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment)
            return True
        except MissingEntry:
            return False


# ---- 2. execute ------------------------------------------------------------------------------

def execute(job: Job, settings: dict, sandbox: Sandbox) -> str:
    """Run the worker for each notebook of ``job``, in the student's control group where there is
    one; '' on success, else why it failed."""
    mode = settings["cgroups"]
    cgroup = Cgroup(mode, f"student-{job.marker}", sandbox.memory_mb, sandbox.max_processes).create() \
        if mode.kind else None
    try:
        problem = _execute(job, {**settings, "cgroups": None, "cgroup": to_spec(cgroup)}, sandbox.notebook_timeout)
        if problem and cgroup and cgroup.out_of_memory():
            problem += f" [out of memory: the sandbox's {sandbox.memory_mb} MiB limit]"
        return problem
    finally:
        if cgroup:
            cgroup.close()
        end_leftover_processes(job.marker)


def _execute(job: Job, settings: dict, notebook_timeout: float) -> str:
    for name in job.notebooks:
        spec = {**settings, "workdir": str(job.workdir), "channel": str(job.channel), "marker": job.marker,
                "notebook": str(job.folder / f"{name}.ipynb"), "output": str(job.folder / f"{name}.executed.ipynb"),
                "result": str(job.folder / f"{name}.result.json")}
        (job.folder / f"{name}.job.json").write_text(json.dumps(spec))
        if not _run_worker(job.folder / f"{name}.job.json", notebook_timeout):
            return f"{name}.ipynb ran longer than {notebook_timeout:g} s (c.Sandbox.notebook_timeout)"
        result_file = job.folder / f"{name}.result.json"
        if not result_file.exists():
            log = job.folder / f"{name}.job.log"
            last = (log.read_text(errors="replace").strip().splitlines() if log.exists() else []) or ["no message"]
            return f"{name}.ipynb: the grading worker crashed ({last[-1][:200]})"
        result = json.loads(result_file.read_text())
        job.flags += [f"{name}: the test guard undid: {what}" for what in result["tampering"]]
        if result["status"] != "executed":
            return f"{name}.ipynb: {result['reason']}"
    return ""


def _run_worker(job_file: Path, timeout: float) -> bool:
    """Run instructor.worker on ``job_file`` in a process of its own; False if it ran out of time."""
    process = WORKERS.Process(target=worker.run, args=(str(job_file),))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    return True


# ---- 3. record -------------------------------------------------------------------------------

def record(course: Course, assignment: str, job: Job) -> Outcome:
    """Save the executed notebooks' grades in the gradebook and store them in autograded/."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session warnings, harmless
            for attempt in range(5):  # another grader (--shard) may hold the rows a moment
                try:
                    _save(course, assignment, job)
                    break
                except DBAPIError:
                    if attempt == 4:
                        raise
                    time.sleep(0.5 * 2 ** attempt)
    except Exception as error:
        return Outcome(job.student, "failed", f"could not record the grades ({type(error).__name__}: "
                                              f"{str(error)[:150]})", flags=job.flags)
    score, max_score = autograded_score(course, assignment, job.student)
    return Outcome(job.student, "graded", score=score, max_score=max_score, flags=job.flags)


def _save(course: Course, assignment: str, job: Job) -> None:
    autograded = course.folder("autograded") / job.student / assignment
    with Gradebook(course.db_url) as gradebook:
        gradebook.update_or_create_student(job.student)
        timestamp = {"timestamp": parse_utc(job.timestamp)} if job.timestamp else {}
        gradebook.update_or_create_submission(assignment, job.student, **timestamp)
    shutil.rmtree(autograded, ignore_errors=True)
    autograded.mkdir(parents=True)
    for name in job.notebooks:
        nb = nbformat.read(job.folder / f"{name}.executed.ipynb", as_version=4)
        resources = {"nbgrader": {"db_url": course.db_url, "assignment": assignment, "notebook": name,
                                  "student": job.student}}
        for preprocessor in RECORD:
            nb, resources = preprocessor(config=course.config).preprocess(nb, resources)
        nbformat.write(nb, autograded / f"{name}.ipynb")
    if job.timestamp:
        (autograded / "timestamp.txt").write_text(job.timestamp + "\n")


def autograded_score(course: Course, assignment: str, student: str) -> tuple[float, float]:
    """The autograded (code) score and its maximum from the gradebook."""
    with Gradebook(course.db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, 0.0
        return submission.code_score, submission.max_code_score


# ---- summary ---------------------------------------------------------------------------------

def _report(outcome: Outcome) -> Outcome:
    detail = f"{outcome.score:g} / {outcome.max_score:g}" if outcome.status == "graded" else outcome.reason
    flagged = f"  [flagged: {len(outcome.flags)}]" if outcome.flags else ""
    print(f"{printable(outcome.student):24s} {outcome.status:7s} {printable(detail, 300)}{flagged}", flush=True)
    return outcome


def _summarize(course: Course, assignment: str, outcomes: list[Outcome], sandboxed: bool) -> int:
    failed = [o for o in outcomes if o.status != "graded"]
    flagged = [o for o in outcomes if o.flags]
    print(f"\n{assignment}: {len(outcomes) - len(failed)} graded, {len(failed)} failed, {len(flagged)} flagged "
          f"for review ({'sandboxed' if sandboxed else 'NOT sandboxed'})")
    for o in failed:
        print(f"  failed   {printable(o.student)}: {printable(o.reason, 300)}")
    if flagged:
        report = course.folder("autograded") / f"review-{assignment}.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("\n".join(f"{printable(o.student)}\n" + "".join(f"  {printable(flag, 300)}\n"
                                                                          for flag in o.flags) for o in flagged))
        for o in flagged:
            print(f"  flagged  {printable(o.student)}: {printable(o.flags[0], 200)}"
                  + (f" (+{len(o.flags) - 1} more)" if len(o.flags) > 1 else ""))
        print(f"  review the flagged answers: {report.relative_to(course.root)}")
    return int(bool(failed))
