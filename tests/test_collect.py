"""Collecting an LMS export (`python -m instructor collect`) that students' uploads crafted, and
exporting grades that students' names crafted.

One export holds, besides honest entries, what a student can upload or name: an archive holding
another student's file, entries in folders or with ``..`` and ``\\``, a gzipped notebook, an
entry that unpacks to 64 MiB, a corrupt one, a setuid world-writable one, a link, names with
terminal escapes and formulas, and a file named after another student. The collect unpacks the
honest entries, skips and reports every other one, and goes on.
"""
import csv
import os
import stat
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from instructor.export import export_grades

from .exercise_helpers import REPO, make_course

EX = "ex01_foundations"
NOTEBOOK = (REPO / "exercises" / EX / f"{EX}.ipynb").read_text()
LIMITS = "\nc.Collect.max_file_mb = 1\nc.Collect.max_total_mb = 3\n"


def _entry(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _nested_zip() -> bytes:
    inner = BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("mallory_ex01_foundations.ipynb", NOTEBOOK)
        z.writestr("alice_101_1_ex01_foundations.ipynb", "{}")
    return inner.getvalue()


def _corrupt(archive, name: str) -> None:
    """Flip a byte of ``name``'s stored data, so that its checksum fails when it is read."""
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF
    archive.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    root = tmp_path_factory.mktemp("collect")
    course = make_course(root)
    with open(course / "nbgrader_config.py", "a") as config:
        config.write(LIMITS)
    first, second, not_a_zip = root / "export.zip", root / "late_export.zip", root / "notes.txt"
    with zipfile.ZipFile(first, "w") as z:
        z.writestr(_entry("alice_101_9001_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("alice_102_9002_ex01_foundations-1.ipynb"), NOTEBOOK)  # another alice, resubmitted
        z.writestr(_entry("bob_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("carol_103_9003_bob_ex01_foundations.ipynb"), NOTEBOOK)  # named after bob
        z.writestr(_entry("carol_103_9003_bob_104_9004_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("dave_105_9005_ex01_foundations.zip"), _nested_zip())
        z.writestr(_entry("sub/frank_106_9006_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("../grace_107_9007_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("..\\heidi_108_9008_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("ivan_109_9009_ex01_foundations.ipynb.gz"), NOTEBOOK)
        z.writestr(_entry("judy_110_9010_ex01_foundations.ipynb"), b"\0" * (64 * 1024 ** 2))  # 64 KiB packed
        z.writestr(_entry("kim_111_9011_ex01_foundations.ipynb", 0o104777), NOTEBOOK)  # setuid, world-writable
        z.writestr(_entry("leo_112_9012_ex01_foundations.ipynb", 0o120777), "/etc/shadow")  # a link
        z.writestr(_entry(".._ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("\x1b[2J\x1b]0;owned\x07_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("=HYPERLINK(1)_ex01_foundations.ipynb"), NOTEBOOK)
        z.writestr(_entry("=cmd|' -C calc'!A0_113_9013_ex01_foundations.ipynb"), NOTEBOOK)
        stored = _entry("mia_114_9014_ex01_foundations.ipynb")
        stored.compress_type = zipfile.ZIP_STORED
        z.writestr(stored, NOTEBOOK)
    _corrupt(first, "mia_114_9014_ex01_foundations.ipynb")
    with zipfile.ZipFile(second, "w") as z:
        z.writestr(_entry("alice_101_9101_ex01_foundations.ipynb"), NOTEBOOK.replace("Exercise 1", "Exercise one"))
        for i in range(4):  # 0.9 MiB each, under the file limit; the 3 MiB total stops the fourth
            z.writestr(_entry(f"bulk_{200 + i}_1_ex01_foundations.ipynb"), b" " * (900 * 1024))
    not_a_zip.write_text("not an archive")
    run = subprocess.run([sys.executable, "-m", "instructor", "collect", EX, str(first), str(not_a_zip), str(second)],
                         cwd=course, capture_output=True, text=True, timeout=300)
    return course, run


def test_a_clean_export_is_collected_silently(tmp_path):
    course = make_course(tmp_path)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_123456_7890_ex01_foundations.ipynb", NOTEBOOK)
        z.writestr("bob_ex01_foundations.ipynb", NOTEBOOK)
    run = subprocess.run([sys.executable, "-m", "instructor", "collect", EX, str(archive)], cwd=course,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "skipped" not in run.stdout, run.stdout + run.stderr
    assert f"{EX}: 2 submissions in submitted/: 123456 (alice), bob" in run.stdout
    for student in ("123456", "bob"):
        assert (course / "submitted" / student / EX / f"{EX}.ipynb").read_text() == NOTEBOOK


def _students(course) -> set[str]:
    return {p.name for p in (course / "submitted").iterdir()}


def test_honest_entries_are_collected_under_the_lms_user_id(collected):
    course, run = collected
    assert {"101", "102", "111", "113", "bob", "200", "201", "202"} == _students(course), run.stdout + run.stderr
    for student in ("102", "bob"):
        assert (course / "submitted" / student / EX / f"{EX}.ipynb").read_text() == NOTEBOOK
    assert "101 (alice), 102 (alice)" in run.stdout, "two students of one name stay two"


def test_a_later_export_replaces_a_students_notebook_and_says_so(collected):
    course, run = collected
    assert "Exercise one" in (course / "submitted" / "101" / EX / f"{EX}.ipynb").read_text()
    assert "replaced by alice_101_9101_ex01_foundations.ipynb" in run.stdout


def test_an_upload_cannot_create_or_replace_another_student(collected):
    course, run = collected
    assert "mallory" not in _students(course) and "104" not in _students(course)
    assert (course / "submitted" / "bob" / EX / f"{EX}.ipynb").read_text() == NOTEBOOK
    for entry in ("carol_103_9003_bob_ex01_foundations.ipynb", "carol_103_9003_bob_104_9004_ex01_foundations.ipynb",
                  "dave_105_9005_ex01_foundations.zip"):
        assert f"{entry}: not a notebook of {EX}" in run.stdout, entry


def test_unsafe_entries_are_skipped_and_reported_and_the_collect_goes_on(collected):
    course, run = collected
    assert run.returncode == 1, run.stdout + run.stderr
    report = (course / "downloaded" / EX / "collect-report.txt").read_text()
    for entry, reason in [("sub/frank_106_9006_ex01_foundations.ipynb", "inside a folder"),
                          ("../grace_107_9007_ex01_foundations.ipynb", "inside a folder"),
                          ("..\\heidi_108_9008_ex01_foundations.ipynb", "an unsafe name"),
                          ("ivan_109_9009_ex01_foundations.ipynb.gz", "not a notebook"),
                          ("judy_110_9010_ex01_foundations.ipynb", "64 MiB, more than the 1 MiB"),
                          ("leo_112_9012_ex01_foundations.ipynb", "not a regular file"),
                          ("mia_114_9014_ex01_foundations.ipynb", "unreadable (BadZipFile"),
                          (".._ex01_foundations.ipynb", "not a notebook"),
                          ("=HYPERLINK(1)_ex01_foundations.ipynb", "not a notebook"),
                          ("bulk_203_1_ex01_foundations.ipynb", "past the 3 MiB this collect may unpack in all")]:
        assert f"{entry}: {reason}" in report, f"{entry}: {reason!r} not in\n{report}"
    assert "notes.txt: not read, not a zip archive" in report
    assert not (course / EX).exists() and not (course / "submitted" / EX).exists(), "nothing outside submitted/<id>/"
    assert not [p for p in (course / "submitted").rglob("*") if ".partial" in p.name]


def test_names_reach_the_terminal_escaped(collected):
    course, run = collected
    assert "\x1b" not in run.stdout + run.stderr and "\x07" not in run.stdout + run.stderr
    assert "\\x1b[2J\\x1b]0;owned\\x07_ex01_foundations.ipynb: an unsafe name" in run.stdout


def test_file_modes_in_the_archive_are_ignored(collected):
    course, _ = collected
    for path in (course / "submitted").rglob("*.ipynb"):
        mode = path.stat().st_mode
        assert stat.S_ISREG(mode) and not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH), path


def test_the_grades_csv_is_safe_from_formulas_and_extra_columns(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))  # alembic
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    crafted = {"=HYPERLINK(\"http://x\")": ("+1,2", "@SUM(A1)\nB"), "plain": ("Ana", "Lee")}
    with Gradebook(db_url) as gradebook:
        gradebook.add_assignment(EX)
        for student, (first, last) in crafted.items():
            gradebook.add_student(student, first_name=first, last_name=last, email="-2+3@x")
    output = tmp_path / "grades.csv"
    assert export_grades(db_url, str(output)) == 2
    with open(output, newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header[:4] == ["assignment", "duedate", "timestamp", "student_id"]
    records = {row[3]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(records) == {"'=HYPERLINK(\"http://x\")", "plain"}
    attack = records["'=HYPERLINK(\"http://x\")"]
    assert (attack["first_name"], attack["last_name"], attack["email"]) == ("'+1,2", "'@SUM(A1)\nB", "'-2+3@x")
    assert (attack["raw_score"], attack["score"]) == ("0.0", "0.0")
    assert records["plain"]["first_name"] == "Ana"
