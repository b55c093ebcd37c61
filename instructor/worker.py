"""Execute one student's notebook, nothing else (``python -m instructor.worker JOB.json``).

Started by :mod:`instructor.grading` once per student, in a process of its own (forked from a
server that has imported this module already, so it starts at once) so that nothing
one submission does (a dead kernel, a flood of output, a crash of the executor) reaches the
others. It never opens the gradebook: it reads the sanitized notebook that the grader wrote
into the student's private working folder, runs it in the jailed kernel, caps its outputs and
writes the executed notebook and a small JSON result next to it.
"""
import json
import os
import signal
import sys
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError

from .course import Course
from .kernel import GuardedExecute, JailedKernelManager, KernelKilled
from .limits import from_spec
from .outputs import OutputLimits, cap_outputs, strip_active_html
from .sandbox import KernelJail, RunAs, Sandbox


def execute(job: dict) -> dict:
    course = Course.load(job["course"])
    sandbox = Sandbox(config=course.config)
    workdir, channel = Path(job["workdir"]), Path(job["channel"])
    jail = KernelJail(sandbox, job["bwrap"], course.root, workdir, channel, job["threads"], job["marker"],
                      from_spec(job.get("cgroup")), RunAs(*job["user"]) if job.get("user") else None)
    if job.get("cell_timeout"):  # in the configuration: preprocess() loads it again
        course.config.Execute.timeout = job["cell_timeout"]
    executor = GuardedExecute(config=course.config, interrupt_grace=sandbox.interrupt_grace)
    km = JailedKernelManager(jail=jail, kernel_name="python3", connection_file=str(channel / "kernel.json"))
    if job["bwrap"] and not jail.sandbox.network:  # no network namespace: talk over Unix sockets
        km.transport, km.ip = "ipc", str(channel / "kernel")
    nb = nbformat.read(job["notebook"], as_version=4)
    try:
        executor.preprocess(nb, {"metadata": {"path": str(workdir)}}, km=km)
    except KernelKilled as error:
        return {"status": "failed", "reason": str(error), "tampering": list(executor.tampering)}
    except DeadKernelError:
        return {"status": "failed", "reason": "the kernel died while running the notebook (killed, crashed or out "
                                              "of memory)", "tampering": list(executor.tampering)}
    except Exception as error:  # the executor itself failed on this notebook
        return {"status": "failed", "reason": f"could not execute the notebook ({type(error).__name__}: "
                                              f"{str(error)[:200]})", "tampering": list(executor.tampering)}
    finally:
        end_leftover_processes(job["marker"])
    cap_outputs(nb, OutputLimits(config=course.config))
    strip_active_html(nb)
    nbformat.write(nb, job["output"])
    return {"status": "executed", "tampering": list(executor.tampering)}


def end_leftover_processes(marker: str) -> None:
    """Kill any process the kernel left behind (without a PID namespace, only this finds them)."""
    import psutil

    for process in psutil.process_iter():
        try:
            if process.environ().get("COURSE_GRADING_JOB") == marker:
                process.send_signal(signal.SIGKILL)
        except (psutil.Error, OSError):
            continue


def run(job_file: str) -> None:
    """Execute the job described in ``job_file``; everything printed goes to a log beside it."""
    job = json.loads(Path(job_file).read_text())
    log = os.open(Path(job_file).with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    Path(job["result"]).write_text(json.dumps(execute(job)))


if __name__ == "__main__":
    run(sys.argv[1])
