"""Files, folders and names a student controls: read, removed and shown safely.

A submission is read only if it is a regular file, reached without following a symbolic link
at any step below the folder the grader trusts, and no larger than a limit; what fails says
why without showing any of the file. :func:`remove_tree` removes a folder however deeply a
kernel nested folders in it, never following a link out of it. :func:`printable` is how a
name a student chose reaches a terminal or a report: control characters (terminal escapes,
newlines) escaped, and cut to a length.
"""
import errno
import os
import stat
from pathlib import Path

MiB = 1024 * 1024


class UnsafeFile(Exception):
    """A file that is not read: missing, a link, not a regular file, or too large."""


def read_regular(root: Path, *parts: str, limit: int) -> bytes:
    """The bytes of ``root/parts...``: every folder below ``root`` and the file itself must be
    neither a symbolic link nor anything but a folder or a regular file, and the file at most
    ``limit`` bytes (checked before it is read)."""
    where = "/".join(parts)
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
            except OSError as error:
                raise UnsafeFile(_why(error, f"folder {part}")) from None
            os.close(folder)
            folder = inner
        try:  # O_NONBLOCK: a FIFO would otherwise block the open until someone writes
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as error:
            raise UnsafeFile(_why(error, where)) from None
    finally:
        os.close(folder)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{where} is not a regular file: only regular files are graded")
        if info.st_size > limit:
            raise UnsafeFile(f"{where} is {info.st_size / MiB:.1f} MiB, more than the {limit / MiB:g} MiB "
                             f"a submitted file may have: not read")
        data = file.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise UnsafeFile(f"{where} is more than the {limit / MiB:g} MiB a submitted file may have: not read")
    return data


def _why(error: OSError, what: str) -> str:
    if error.errno == errno.ENOENT:
        return f"missing {what}"
    if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return f"{what} is a symbolic link (or not a folder where one was expected): links are not followed"
    return f"{what} cannot be opened ({errno.errorcode.get(error.errno, error.errno)})"


def remove_tree(root: Path) -> None:
    """Remove ``root`` and everything in it, never following a symbolic link.

    Folders nested inside one another are moved up into ``root`` one level at a time before
    they are removed, so no path grows long and nothing recurses: ``shutil.rmtree`` raises
    ``RecursionError`` on a chain of a few thousand folders, and paths that deep pass
    ``PATH_MAX``."""
    root = Path(root)
    if root.is_symlink() or not root.is_dir():
        root.unlink(missing_ok=True)
        return
    _make_searchable(root)
    moved = 0
    while True:
        with os.scandir(root) as entries:
            batch = list(entries)
        if not batch:
            break
        for entry in batch:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
                continue
            _make_searchable(Path(entry.path))
            inner = os.listdir(entry.path)
            if not inner:
                os.rmdir(entry.path)
            for name in inner:  # up one level, under a name no entry of root has
                while os.path.lexists(root / f".removing-{moved}"):
                    moved += 1
                os.rename(os.path.join(entry.path, name), root / f".removing-{moved}")
    os.rmdir(root)


def _make_searchable(folder: Path) -> None:
    """A folder the kernel made unreadable (chmod 000) is still the grader's to remove."""
    mode = folder.lstat().st_mode
    if mode & 0o700 != 0o700:
        os.chmod(folder, stat.S_IMODE(mode) | 0o700)


def printable(text: str, limit: int = 80) -> str:
    """``text`` with every non-printable character (escape sequences, newlines, bidirectional
    overrides) written as a Python escape, and cut to ``limit`` characters."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")
