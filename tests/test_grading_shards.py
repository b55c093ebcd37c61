"""A class graded by two machines at once into one PostgreSQL gradebook (`autograde --shard K/N`).

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

from instructor.grading import in_shard

from .exercise_helpers import REPO, make_course, solved, submit

EX = "ex01_foundations"


def test_shards_split_a_class_into_disjoint_slices_that_cover_it():
    students = [f"student{i:03d}" for i in range(200)] + ["ana", "Bo", "x_y-z"]
    for n in (1, 2, 3, 7):
        owners = [[k for k in range(1, n + 1) if in_shard(s, (k, n))] for s in students]
        assert all(len(o) == 1 for o in owners), n
        if n > 1:  # every slice gets work
            assert {o[0] for o in owners} == set(range(1, n + 1))


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


def test_two_graders_on_two_shards_fill_one_postgres_gradebook(postgres, tmp_path):
    course = make_course(tmp_path)
    env = {**os.environ, "NBGRADER_DB_URL": postgres, "OMP_NUM_THREADS": "1"}

    def instructor(*args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "instructor", *args], cwd=course, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

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

    graders = [instructor("autograde", EX, "--shard", f"{k}/2", "-j", "1") for k in (1, 2)]  # at the same time
    outputs = [(g.communicate(timeout=900), g.returncode) for g in graders]
    for (stdout, stderr), code in outputs:
        assert code == 0, stdout + stderr
    graded = [line.split()[0] for (stdout, _), _ in outputs for line in stdout.splitlines() if " graded " in line]
    assert sorted(graded) == sorted(expected), "each student graded by exactly one shard"

    exported = instructor("grades", "--output", "grades.csv")
    assert exported.wait(300) == 0, exported.stderr.read()
    rows = (course / "grades.csv").read_text().splitlines()
    header = rows[0].split(",")
    records = [dict(zip(header, row.split(","))) for row in rows[1:]]
    scores = {r["student_id"]: float(r["raw_score"]) for r in records if r["assignment"] == EX}
    assert len([r for r in records if r["assignment"] == EX]) == len(expected), rows  # no grade doubled
    assert scores == expected  # no grade lost
    assert not (course / "gradebook.db").exists(), "the SQLite default must not be used when NBGRADER_DB_URL is set"
