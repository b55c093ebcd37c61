"""``python -m instructor collect``: an LMS export (zip) into ``submitted/<student>/<assignment>/``.

Every file in an export was uploaded by a student, and its name was partly chosen by one. So:

- only the archives given (or those already in ``downloaded/<assignment>/archive/``) are opened;
  an archive inside one is an entry like any other, never unpacked;
- only entries at the archive's top level are read, and only when the name is, for a notebook
  ``<notebook>.ipynb`` of the assignment,

  - ``<name>_[late_]<user id>_<submission id>_<notebook>[-N].ipynb`` (Canvas; ``-N`` is what
    Canvas adds to a resubmitted file): the student is the LMS's numeric **user id**, so two
    students of the same name stay two, and the name is only shown. The name has no ``_``
    and what follows the ids (the student's own file name) must be the notebook's, so a file
    uploaded as ``bob_3_4_ex01_foundations.ipynb`` is skipped, not taken for student 3;
  - ``<id>_<notebook>.ipynb``, with an id of at most 64 letters, digits and ``-`` that starts
    with a letter or digit (an export you made yourself);

- every other entry (in a folder, a name with ``\\``, another file, an encrypted, unreadable or
  oversized entry, a link) is skipped and reported, and the collect goes on;
- entries are streamed to disk, at most ``c.Collect.max_file_mb`` each and ``c.Collect.max_total_mb``
  in all, whatever sizes the archive declares; file modes in the archive are ignored;
- folders are opened without following symbolic links, and a file is replaced in one step.

A student collected again replaces their notebook (the newest export wins; within one run, the
entry read last, and the replaced one is reported). Names and reasons are printed escaped
(:func:`instructor.files.printable`) and listed in ``downloaded/<assignment>/collect-report.txt``.
"""
import os
import re
import secrets
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Int
from traitlets.config import Configurable

from .course import Course
from .files import MiB, printable

STUDENT_ID = r"[A-Za-z0-9][A-Za-z0-9-]{0,63}"
CHUNK = MiB
SHOWN_SKIPS = 20  # skipped entries printed; the report file lists them all


class Collect(Configurable):
    """Limits of ``python -m instructor collect`` (``c.Collect.*`` in nbgrader_config.py)."""

    max_file_mb = Int(20, help="largest notebook unpacked from an export, in MiB (as c.Sandbox.max_notebook_mb)"
                      ).tag(config=True)
    max_total_mb = Int(4096, help="most an export may unpack in all, in MiB").tag(config=True)


@dataclass
class Collected:
    students: dict[str, str] = field(default_factory=dict)  # id -> name shown (the LMS's, or the id)
    entries: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, notebook) -> the entry unpacked
    skipped: list[str] = field(default_factory=list)  # "archive: entry: why"
    written: int = 0  # bytes


def patterns(notebooks: list[str]) -> list[re.Pattern]:
    """File-name patterns of the two accepted forms, for these notebook names (without .ipynb)."""
    names = "|".join(re.escape(n) for n in notebooks)
    return [re.compile(rf"(?P<name>[^_]+)_(?:(?i:late)_)?(?P<id>[0-9]{{1,20}})_[0-9]{{1,20}}_(?P<notebook>{names})"
                       rf"(?:-[0-9]+)?\.ipynb"),
            re.compile(rf"(?P<id>{STUDENT_ID})_(?P<notebook>{names})\.ipynb")]


def collect(course: Course, assignment: str, archives: list[str]) -> int:
    """Unpack the exports (copied into downloaded/<assignment>/archive/ first); 1 if anything was skipped."""
    notebooks = [p.stem for p in course.source_notebooks(assignment)]
    if not notebooks:
        print(f"no notebook in {course.folder('source').name}/{assignment}/: nothing to collect", flush=True)
        return 1
    archive_dir = course.root / "downloaded" / assignment / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    for archive in archives:
        shutil.copy2(archive, archive_dir)
    paths = [archive_dir / Path(a).name for a in archives] or sorted(p for p in archive_dir.iterdir()
                                                                     if p.is_file() and not p.is_symlink())
    limits = Collect(config=course.config)
    result = Collected()
    submitted = course.folder("submitted")
    submitted.mkdir(exist_ok=True)
    for path in paths:
        _unpack(path, submitted, assignment, patterns(notebooks), limits, result)
    _report(course, assignment, result)
    return int(bool(result.skipped) or not result.students)


def _unpack(path: Path, submitted: Path, assignment: str, accepted: list[re.Pattern], limits: Collect,
            result: Collected) -> None:
    where = printable(path.name)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        result.skipped.append(f"{where}: not read, not a zip archive ({type(error).__name__})")
        return
    with archive:
        for info in archive.infolist():
            shown = f"{where}: {printable(info.filename)}"
            why = _unsafe(info, limits)
            match = None if why else next(filter(None, (p.fullmatch(info.filename) for p in accepted)), None)
            if not why and match is None:
                why = f"not a notebook of {assignment} named as an LMS names it"
            if why:
                result.skipped.append(f"{shown}: {why}")
                continue
            student, notebook = match["id"], match["notebook"]
            why = _extract(archive, info, submitted, [student, assignment], f"{notebook}.ipynb", limits, result)
            if why:
                result.skipped.append(f"{shown}: {why}")
                continue
            if (student, notebook) in result.entries:
                result.skipped.append(f"{result.entries[student, notebook]}: replaced by {printable(info.filename)}, "
                                      f"a later entry for the same student")
            result.entries[student, notebook] = shown
            result.students[student] = match.groupdict().get("name") or student


def _unsafe(info: zipfile.ZipInfo, limits: Collect) -> str:
    """Why this entry is not read at all, or ''."""
    name = info.filename
    if info.is_dir() or "/" in name:
        return "inside a folder (only the archive's top level is read)"
    if "\\" in name or name in ("", ".", "..") or not name.isprintable():
        return "an unsafe name"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind not in (0, stat.S_IFREG):
        return "not a regular file (a link or a device)"
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.file_size > limits.max_file_mb * MiB:
        return f"{info.file_size / MiB:.0f} MiB, more than the {limits.max_file_mb} MiB a notebook may have"
    return ""


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, submitted: Path, folders: list[str], name: str,
             limits: Collect, result: Collected) -> str:
    """Stream the entry into submitted/, then move it to submitted/<folders>/<name> in one step
    (the folders are made only for an entry that unpacked whole); '' or why not."""
    root = os.open(submitted, os.O_RDONLY | os.O_DIRECTORY)
    partial = f".collect-{secrets.token_hex(8)}.partial"
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=root),
                       "wb") as out, archive.open(info) as entry:
            size = 0
            while chunk := entry.read(CHUNK):
                size += len(chunk)
                if size > limits.max_file_mb * MiB:
                    return f"unpacks to more than the {limits.max_file_mb} MiB a notebook may have"
                if result.written + size > limits.max_total_mb * MiB:
                    return f"past the {limits.max_total_mb} MiB this collect may unpack in all"
                out.write(chunk)
        try:
            parent = _open_folders(root, folders)
        except OSError as error:
            return f"submitted/{'/'.join(folders)} cannot be used ({type(error).__name__}: a link or not a folder)"
        try:
            os.replace(partial, name, src_dir_fd=root, dst_dir_fd=parent)
        finally:
            os.close(parent)
        result.written += size
        return ""
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as error:
        return f"unreadable ({type(error).__name__}: {printable(str(error), 80)})"
    finally:
        try:
            os.unlink(partial, dir_fd=root)
        except FileNotFoundError:
            pass
        os.close(root)


def _open_folders(root: int, folders: list[str]) -> int:
    """A descriptor of root/folders... (``root`` a descriptor), made where missing, never through
    a symbolic link."""
    fd = os.dup(root)
    for folder in folders:
        try:
            os.mkdir(folder, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        try:
            inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        finally:
            os.close(fd)
        fd = inner
    return fd


def _report(course: Course, assignment: str, result: Collected) -> None:
    students = [student if name == student else f"{student} ({printable(name, 40)})"
                for student, name in sorted(result.students.items())]
    print(f"{assignment}: {len(students)} submissions in {course.folder('submitted').name}/: {', '.join(students)}")
    report = course.root / "downloaded" / assignment / "collect-report.txt"
    report.write_text("".join(f"collected {s}\n" for s in students) + "".join(f"skipped {s}\n" for s in result.skipped))
    if result.skipped:
        print(f"skipped {len(result.skipped)} entries (all listed in {report.relative_to(course.root)}):")
        for line in result.skipped[:SHOWN_SKIPS]:
            print(f"  {line}")
        if len(result.skipped) > SHOWN_SKIPS:
            print(f"  ... and {len(result.skipped) - SHOWN_SKIPS} more")
