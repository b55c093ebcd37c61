"""Memory and process limits for a student's whole sandbox, not per process: control groups.

``RLIMIT_DATA`` limits each process, so four forked processes may each take the whole limit,
and ``RLIMIT_NPROC`` does not apply to root. A control group holds every process a kernel
starts and limits them together. The first set-up that works here is used:

- **cgroup v2, directly** (root, with a writable unified hierarchy): a group per student under
  ``<own group>/course-grading-<pid>/``, with ``memory.max``, ``memory.swap.max`` and ``pids.max``;
- **cgroup v1, directly** (root, with writable ``memory`` and ``pids`` hierarchies): the same with
  ``memory.limit_in_bytes``, ``memory.memsw.limit_in_bytes`` and ``pids.max``;
- **systemd** (any user with a systemd user manager on cgroup v2): the kernel runs in a transient
  scope, ``systemd-run --user --scope -p MemoryMax=... -p TasksMax=...``;
- **none**: only the per-process resource limits of :mod:`instructor.sandbox` apply.

The kernel joins its group in the child process before ``exec`` (:meth:`Cgroup.join`), so
everything it ever starts is inside; when the student is done, :meth:`Cgroup.close` kills what
is left in the group and removes it.
"""
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupMode:
    """How student groups are made here: ``kind`` is "v2", "v1", "systemd" or "" (none)."""

    kind: str
    parents: tuple[str, ...] = ()  # v1/v2: the folders that hold the student groups
    why_not: str = ""  # for kind "": why no set-up works

    def describe(self) -> str:
        return {"v2": "cgroup v2", "v1": "cgroup v1", "systemd": "a systemd scope"}.get(self.kind, "")


def detect(tag: str) -> CgroupMode:
    """The first set-up of the module docstring that works here, with a parent group named by ``tag``."""
    reasons = []
    for attempt in (_direct_v2, _direct_v1, _systemd_scope):
        mode = attempt(tag)
        if isinstance(mode, CgroupMode):
            return mode
        reasons.append(mode)
    return CgroupMode("", why_not="; ".join(reasons))


def _own_group(controller: str) -> str:
    """This process's group in the hierarchy of ``controller`` ('' for the unified one)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (not controller and not controllers):
            return path.lstrip("/")
    raise LookupError(controller)


def _mount(kind: str, controller: str) -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, fstype, options, *_ = line.split()
        if fstype == kind and (kind == "cgroup2" or controller in options.split(",")):
            return Path(where)
    return None


def _make_parent(base: Path, tag: str) -> Path:
    parent = base / f"course-grading-{tag}"
    parent.mkdir(exist_ok=True)
    return parent


def _direct_v2(tag: str) -> "CgroupMode | str":
    mount = _mount("cgroup2", "")
    if mount is None:
        return "no cgroup v2 hierarchy"
    try:
        base = mount / _own_group("")
        if not {"memory", "pids"} <= set((base / "cgroup.controllers").read_text().split()):
            return "cgroup v2 without the memory and pids controllers"
        parent = _make_parent(base, tag)
        # A group's controllers must be enabled in its parent (fails where the parent holds processes).
        for folder in (base, parent):
            (folder / "cgroup.subtree_control").write_text("+memory +pids")
        return CgroupMode("v2", (str(parent),))
    except (OSError, LookupError) as error:
        _remove(mount / _own_group("") / f"course-grading-{tag}")
        return f"cgroup v2 is not writable here ({type(error).__name__}: {error})"


def _direct_v1(tag: str) -> "CgroupMode | str":
    parents = []
    try:
        for controller in ("memory", "pids"):
            mount = _mount("cgroup", controller)
            if mount is None:
                raise LookupError(f"no cgroup v1 {controller} hierarchy")
            parents.append(str(_make_parent(mount / _own_group(controller), tag)))
        return CgroupMode("v1", tuple(parents))
    except (OSError, LookupError) as error:
        for parent in parents:
            _remove(Path(parent))
        return f"cgroup v1 is not writable here ({type(error).__name__}: {error})"


def _systemd_scope(tag: str) -> "CgroupMode | str":
    if not shutil.which("systemd-run"):
        return "no systemd-run"
    try:
        result = subprocess.run(["systemd-run", "--user", "--scope", "--quiet", "-p", "MemoryMax=64M",
                                 "-p", "TasksMax=16", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"systemd-run failed ({error})"
    if result.returncode:
        return f"no systemd user manager ({(result.stderr.strip().splitlines() or ['?'])[-1][:120]})"
    return CgroupMode("systemd")


def _remove(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


@dataclass(frozen=True)
class Cgroup:
    """One student's group (or scope): limits ``memory_mb`` and ``max_processes`` for all its processes."""

    mode: CgroupMode
    name: str
    memory_mb: int
    max_processes: int

    @property
    def folders(self) -> list[Path]:
        return [Path(parent) / self.name for parent in self.mode.parents]

    def create(self) -> "Cgroup":
        memory, tasks = str(self.memory_mb * MiB), str(self.max_processes)
        files = {"v2": {"memory.max": memory, "memory.swap.max": "0", "pids.max": tasks},
                 "v1": {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory, "pids.max": tasks}
                 }.get(self.mode.kind, {})
        for folder in self.folders:
            folder.mkdir(exist_ok=True)
            for name, value in files.items():  # v1: memory, then memory+swap (never below memory)
                if (folder / name).exists():
                    (folder / name).write_text(value)
        return self

    def command(self, command: list[str]) -> list[str]:
        """``command``, started in a systemd scope where that is the set-up."""
        if self.mode.kind != "systemd":
            return command
        return ["systemd-run", "--user", "--scope", "--quiet", "--unit", self.name,
                "-p", f"MemoryMax={self.memory_mb}M", "-p", "MemorySwapMax=0", "-p", f"TasksMax={self.max_processes}",
                "--", *command]

    def join(self) -> None:
        """Move the calling process into the group (run in the kernel's child before exec)."""
        for folder in self.folders:
            with open(folder / "cgroup.procs", "w") as procs:
                procs.write("0")

    def out_of_memory(self) -> bool:
        """Whether the kernel ran out of the group's memory (a process was killed for it)."""
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    text = (folder / name).read_text()
                except OSError:
                    continue
                counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
                if int(counts.get("oom_kill", 0)):
                    return True
        return False

    def close(self) -> None:
        """Kill every process left in the group, then remove it."""
        if self.mode.kind == "systemd":
            subprocess.run(["systemctl", "--user", "kill", "--signal=SIGKILL", f"{self.name}.scope"],
                           capture_output=True, timeout=30)
            return
        for folder in self.folders:
            for _ in range(100):  # processes forking while being killed need another round
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.05)
            for _ in range(50):  # the group can be removed once its last process is reaped
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)


def remove_parents(mode: CgroupMode) -> None:
    for parent in mode.parents:
        _remove(Path(parent))


def to_spec(cgroup: Cgroup | None) -> dict | None:
    """``cgroup`` as JSON-ready data for the worker process (None stays None)."""
    if cgroup is None:
        return None
    return {"kind": cgroup.mode.kind, "parents": list(cgroup.mode.parents), "name": cgroup.name,
            "memory_mb": cgroup.memory_mb, "max_processes": cgroup.max_processes}


def from_spec(spec: dict | None) -> Cgroup | None:
    if spec is None:
        return None
    return Cgroup(CgroupMode(spec["kind"], tuple(spec["parents"])), spec["name"], spec["memory_mb"],
                  spec["max_processes"])
