"""A class graded by two machines at once into one PostgreSQL gradebook (`autograde --shard K/N`),
and ``--shard auto``: K and N from a Kubernetes Indexed Job or a Slurm job array.

The test starts its own PostgreSQL cluster in a temporary folder, as an unprivileged user, on
a Unix socket (no TCP port), and stops it afterwards. Without PostgreSQL's programs it skips,
except in CI (the environment variable ``CI`` set), where that is a failure.
"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
import yaml

from instructor.cli import main
from instructor.grading import in_shard
from instructor.shards import ShardError, scheduler_shard

from .exercise_helpers import REPO, make_course, solved, submit

EX = "ex01_foundations"


def test_shards_split_a_class_into_disjoint_slices_that_cover_it():
    students = [f"student{i:03d}" for i in range(200)] + ["ana", "Bo", "x_y-z"]
    for n in (1, 2, 3, 7):
        owners = [[k for k in range(1, n + 1) if in_shard(s, (k, n))] for s in students]
        assert all(len(o) == 1 for o in owners), n
        if n > 1:  # every slice gets work
            assert {o[0] for o in owners} == set(range(1, n + 1))


# How each scheduler starts the two tasks of a class split in two: only the environment differs.
KUBERNETES_TASKS = [{"JOB_COMPLETION_INDEX": str(i), "JOB_COMPLETIONS": "2"} for i in (0, 1)]
SLURM_TASKS = [{"SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "2",
                "SLURM_ARRAY_TASK_STEP": "1", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_ARRAY_JOB_ID": "77"}
               for i in (1, 2)]  # sbatch --array=1-2
SCHEDULER_VARIABLES = {name for env in KUBERNETES_TASKS + SLURM_TASKS for name in env}


def test_kubernetes_completion_index_counts_from_zero():
    assert [scheduler_shard(env) for env in KUBERNETES_TASKS] == [(1, 2), (2, 2)]
    assert scheduler_shard({"JOB_COMPLETION_INDEX": "6", "JOB_COMPLETIONS": "7"}) == (7, 7)


@pytest.mark.parametrize("array, expected", [
    ({"min": 0, "step": 1, "ids": [0, 1, 2, 3]}, [(1, 4), (2, 4), (3, 4), (4, 4)]),      # --array=0-3
    ({"min": 1, "step": 1, "ids": [1, 2, 3, 4]}, [(1, 4), (2, 4), (3, 4), (4, 4)]),      # --array=1-4
    ({"min": 5, "step": 1, "ids": [5, 6, 7]}, [(1, 3), (2, 3), (3, 3)]),                 # --array=5-7
    ({"min": 1, "step": 2, "ids": [1, 3, 5, 7]}, [(1, 4), (2, 4), (3, 4), (4, 4)]),      # --array=1-7:2
])
def test_slurm_array_task_maps_onto_one_based_shards_whatever_the_first_index(array, expected):
    envs = [{"SLURM_ARRAY_TASK_ID": str(i), "SLURM_ARRAY_TASK_MIN": str(array["min"]),
             "SLURM_ARRAY_TASK_STEP": str(array["step"]), "SLURM_ARRAY_TASK_COUNT": str(len(array["ids"]))}
            for i in array["ids"]]
    assert [scheduler_shard(env) for env in envs] == expected


def test_slurm_without_min_and_step_counts_from_zero():
    assert scheduler_shard({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3"}) == (3, 3)


@pytest.mark.parametrize("env, says", [
    ({}, "no scheduler's index found"),
    ({"PATH": "/usr/bin", "SLURM_JOB_ID": "5"}, "no scheduler's index found"),  # a plain job, not an array
    ({"JOB_COMPLETION_INDEX": "0"}, "set JOB_COMPLETIONS in the pod template"),
    ({"JOB_COMPLETION_INDEX": "2", "JOB_COMPLETIONS": "2"}, "JOB_COMPLETIONS must equal the Job's spec.completions"),
    ({"JOB_COMPLETION_INDEX": "x", "JOB_COMPLETIONS": "2"}, "JOB_COMPLETION_INDEX must be an integer, got 'x'"),
    ({"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "0"}, "is not one of 0 tasks"),
    ({"SLURM_ARRAY_TASK_ID": "1"}, "SLURM_ARRAY_TASK_COUNT is not"),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, "is not one of 4 tasks"),  # a 1-4 array, MIN lost
    ({"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"},
     "--array=1,5,9) is not supported"),
    ({"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_STEP": "2",
      "SLURM_ARRAY_TASK_COUNT": "3"}, "is not on the array's steps"),
    ({**KUBERNETES_TASKS[0], **SLURM_TASKS[0]}, "both JOB_COMPLETION_INDEX (Kubernetes) and SLURM_ARRAY_TASK_ID"),
])
def test_auto_without_a_usable_index_says_what_it_expected(env, says):
    with pytest.raises(ShardError) as error:
        scheduler_shard(env)
    assert says in str(error.value)


def test_command_line_auto_is_the_same_slice_as_k_of_n(monkeypatch, capsys):
    """`--shard auto` reaches autograde as the pair `--shard K/N` gives; without a scheduler it
    stops with the reason, before grading anything."""
    seen = []
    monkeypatch.setattr("instructor.cli.autograde", lambda *args: seen.append(args[-1]) or 0)
    monkeypatch.setattr("instructor.cli.Course.load", lambda folder: None)
    for name in SCHEDULER_VARIABLES:  # this test may itself run inside a scheduler's job
        monkeypatch.delenv(name, raising=False)
    main(["autograde", EX, "--shard", "2/2"])
    for env in (KUBERNETES_TASKS[1], SLURM_TASKS[1]):
        with monkeypatch.context() as patched:
            for name, value in env.items():
                patched.setenv(name, value)
            main(["autograde", EX, "--shard", "auto"])
    assert seen == [(2, 2)] * 3
    with pytest.raises(SystemExit):
        main(["autograde", EX, "--shard", "auto"])
    assert "--shard auto: no scheduler's index found" in capsys.readouterr().err


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb", path=os.pathsep.join([os.environ.get("PATH", ""),
                                                          *sorted(glob.glob("/usr/lib/postgresql/*/bin"))]))
    return Path(found).resolve().parent if found else None  # the folder of the real programs


class Cluster:
    """A throw-away PostgreSQL cluster, run by an unprivileged user (root may not run postgres)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="course-pg-"))
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.data, self.socket = self.folder / "data", self.folder

    def run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["setpriv", "--reuid", self.user, "--regid", str(pwd.getpwnam(self.user).pw_gid),
                       "--clear-groups", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.folder)
        assert result.returncode == 0, f"{program} failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> str:
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "grader", "--no-sync")
        options = f"-k {self.socket} -c listen_addresses='' -F"
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        self.run("createdb", "-h", str(self.socket), "-U", "grader", "gradebook")
        return f"postgresql://grader@/gradebook?host={self.socket}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture
def postgres():
    bin_dir = _postgres_bin()
    if bin_dir is None:
        message = "PostgreSQL is not installed (initdb not found; Debian: apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must run this test")
        pytest.skip(message)
    pytest.importorskip("psycopg", reason="the PostgreSQL driver (pip install 'psycopg[binary]')")
    cluster = Cluster(bin_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.mark.parametrize("scheduler", ["kubernetes", "slurm"])
def test_two_graders_on_two_shards_fill_one_postgres_gradebook(postgres, tmp_path, scheduler):
    """Two graders at once, started as a scheduler starts its tasks: the same command,
    `--shard auto`, told its slice by environment variables only. (`--shard K/N` by hand reaches
    autograde as the same pair: test_command_line_auto_is_the_same_slice_as_k_of_n.)"""
    course = make_course(tmp_path)
    env = {name: value for name, value in os.environ.items() if name not in SCHEDULER_VARIABLES}
    env |= {"NBGRADER_DB_URL": postgres, "OMP_NUM_THREADS": "1"}

    def instructor(*args: str, task: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "instructor", *args], cwd=course, env=env | (task or {}),
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    released = instructor("release", EX)
    assert released.wait(300) == 0, released.stderr.read()
    source = nbformat.read(REPO / "solutions" / EX / f"{EX}.ipynb", as_version=4)
    release = nbformat.read(course / "exercises" / EX / f"{EX}.ipynb", as_version=4)
    expected = {}
    for i in range(4):
        student = f"student{i}"
        submit(course, student, EX, solved(release, source) if i % 2 == 0 else release)
        expected[student] = 8.0 if i % 2 == 0 else 0.0
    assert {in_shard(s, (1, 2)) for s in expected} == {True, False}, "both shards must hold students"

    tasks = KUBERNETES_TASKS if scheduler == "kubernetes" else SLURM_TASKS
    graders = [instructor("autograde", EX, "--shard", "auto", "-j", "1", task=task) for task in tasks]  # at once
    outputs = [(g.communicate(timeout=900), g.returncode) for g in graders]
    for (stdout, stderr), code in outputs:
        assert code == 0, stdout + stderr
    for k, ((stdout, _), _) in enumerate(outputs, start=1):  # task k grades slice k, as `--shard k/2` would
        graded = sorted(line.split()[0] for line in stdout.splitlines() if " graded " in line)
        assert graded == sorted(s for s in expected if in_shard(s, (k, 2))), stdout
        assert f"shard {k}/2:" in stdout

    exported = instructor("grades", "--output", "grades.csv")
    assert exported.wait(300) == 0, exported.stderr.read()
    rows = (course / "grades.csv").read_text().splitlines()
    header = rows[0].split(",")
    records = [dict(zip(header, row.split(","))) for row in rows[1:]]
    scores = {r["student_id"]: float(r["raw_score"]) for r in records if r["assignment"] == EX}
    assert len([r for r in records if r["assignment"] == EX]) == len(expected), rows  # no grade doubled
    assert scores == expected  # no grade lost
    assert not (course / "gradebook.db").exists(), "the SQLite default must not be used when NBGRADER_DB_URL is set"


def _instructors_page_block(language: str, containing: str) -> str:
    page = (REPO / "chapters" / "instructors.md").read_text()
    blocks = [b.split("\n", 1)[1] for b in page.split("```")[1::2] if b.startswith(language + "\n")]
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"one {language} block with {containing!r} on the instructors' page"
    return found[0]


def test_the_instructors_job_manifest_gives_each_pod_its_slice():
    job = yaml.safe_load(_instructors_page_block("yaml", "kind: Job"))
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert spec["completionMode"] == "Indexed"
    assert env["JOB_COMPLETIONS"]["value"] == str(spec["completions"])  # the count Kubernetes does not pass
    assert env["NBGRADER_DB_URL"]["valueFrom"]["secretKeyRef"]  # the password stays out of the manifest
    assert "--shard auto" in container["args"][0]
    assert pod["restartPolicy"] == "Never"  # what podFailurePolicy requires
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["containerName"] == container["name"]
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts == {v["name"] for v in pod["volumes"]}


def test_the_instructors_sbatch_script_is_an_array_job_with_auto_shards():
    script = _instructors_page_block("bash", "#SBATCH --array=")
    assert "--shard auto" in script and "NBGRADER_DB_URL" in script
    checked = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
