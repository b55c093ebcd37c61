"""Execute one student's notebook in a jailed kernel, restoring the interpreter before each test.

:class:`JailedKernelManager` starts ``python -m ipykernel_launcher`` inside the
:class:`~instructor.sandbox.KernelJail` (bwrap and resource limits) whatever kernel the
notebook asks for. :class:`GuardedExecute` is nbgrader's ``Execute`` preprocessor plus the
guard of :mod:`instructor.kernel_guard`: it is installed before the first cell, remembers the
names each locked set-up cell defines, restores the interpreter before every test cell and runs
the test in a namespace of its own. A cell past its time limit is interrupted; one that ignores
the interrupt for ``c.Sandbox.interrupt_grace`` seconds has its kernel killed (:class:`KernelKilled`).
"""
import ast
import json
import secrets
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute
from traitlets import Any, Bool, Float, Int, List, Unicode

GUARD_SOURCE = (Path(__file__).parent / "kernel_guard.py").read_text()
TRUNCATED = "\n[... output truncated by the grader ...]\n"


class JailedKernelManager(AsyncKernelManager):
    """Starts the course's Python kernel inside a KernelJail, never the notebook's choice."""

    jail = Any()

    @property
    def kernel_spec(self):
        """The python3 spec, interrupted by a message: a SIGINT would reach bwrap, not the kernel."""
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def format_kernel_cmd(self, extra_arguments=None):
        command = [sys.executable, "-s", "-m", "ipykernel_launcher", "-f", self.connection_file,
                   "--HistoryManager.hist_file=:memory:"]
        return self.jail.command(command)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self.jail.hand_over(self.jail.channel, Path(self.connection_file))
        kw.update(env=self.jail.environment(), cwd=str(self.jail.workdir), preexec_fn=self.jail.limit_resources)
        await super()._async_launch_kernel(kernel_cmd, **kw)


def is_test_cell(cell) -> bool:
    return cell.cell_type == "code" and nbgrader_utils.is_grade(cell) and not nbgrader_utils.is_solution(cell)


def is_locked_code(cell) -> bool:
    return cell.cell_type == "code" and nbgrader_utils.is_locked(cell) and not nbgrader_utils.is_grade(cell)


def names_bound(source: str) -> list[str]:
    """The top-level names a (trusted, locked) cell assigns, defines or imports."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return names


class KernelKilled(DeadKernelError):
    """A cell ran past its time limit and did not stop when interrupted: its kernel was killed."""


class GuardedExecute(Execute):
    """nbgrader's Execute, with the guard around test cells and a cap on what a cell may print."""

    max_cell_output_bytes = Int(2_000_000, help="output kept from one cell while it runs").tag(config=True)
    interrupt_grace = Float(5, help="seconds an interrupted cell has to stop before its kernel is killed")
    # A cell that floods its output may still be sending it when its reply comes: keep what
    # arrived and go on, rather than fail the whole notebook.
    raise_on_iopub_timeout = Bool(False).tag(config=True)
    tampering = List(Unicode())

    def preprocess(self, nb, resources=None, km=None):
        self._guard_ready = False
        self._output_bytes = {}
        return super().preprocess(nb, resources, km=km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if not self._guard_ready:
            self._guard_ready = self._kernel_expression(
                f"(lambda g: [exec({GUARD_SOURCE!r}, g), g['install']()][1])({{'__name__': '_course_guard'}})"
            ) == "installed"
        problem = ""
        if is_test_cell(cell):
            problem = self._restore("before a test ran")
        elif is_locked_code(cell):  # the set-up code must run unaltered too, before remember()
            self._restore("before a locked cell ran")
        source = cell.source
        if is_test_cell(cell) and self._guard_ready:  # in a namespace of its own, watched
            cell.source = f"__import__('sys').modules['_course_guard'].guard.run_test({source!r})"
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = source
        if is_test_cell(cell):
            _settle_test_cell(cell, problem or self._restore("while a test ran"))
        elif is_locked_code(cell) and self._guard_ready:
            self._kernel_expression(f"__import__('sys').modules['_course_guard'].guard.remember("
                                    f"{names_bound(cell.source)!r})")
        return cell, resources

    async def _async_handle_timeout(self, timeout, cell=None):
        """Interrupt; if no reply comes within the grace (SIGINT ignored, signals blocked), kill the
        kernel and its sandbox at once rather than wait out the notebook's limit."""
        await ensure_async(self.km.interrupt_kernel())
        try:
            reply = await ensure_async(self.kc.shell_channel.get_msg(timeout=self.interrupt_grace))
        except Exception:  # queue.Empty: the kernel did not stop
            reply = None
        if reply is not None and reply.get("msg_type") == "execute_reply":  # it stopped: a timeout error
            return {"content": {**self.error_on_timeout, "status": "error"}} if self.error_on_timeout else reply
        await ensure_async(self.km.shutdown_kernel(now=True))
        where = (cell or {}).get("metadata", {}).get("nbgrader", {}).get("grade_id") or "a cell"
        raise KernelKilled(f"{where} ran past its {timeout} s limit and ignored the interrupt for "
                           f"{self.interrupt_grace:g} s: its kernel was killed")

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        total = self._output_bytes.get(cell_index, 0) + size
        self._output_bytes[cell_index] = total
        if total > self.max_cell_output_bytes:
            if total - size <= self.max_cell_output_bytes:
                outs.append(NotebookNode(output_type="stream", name="stdout", text=TRUNCATED))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _restore(self, when: str) -> str:
        """Ask the guard to restore the interpreter; why the test cannot count, or '' when it can.

        ``when`` says which: "before ..." undoes what answer cells did (and flags it), "while a
        test ran" fails the test if its own run changed anything."""
        if not self._guard_ready:
            self._flag("the test guard could not be installed")
            return "the test guard could not be installed"
        token = secrets.token_hex(8)
        answer = self._kernel_expression(f"__import__('sys').modules['_course_guard'].guard.restore({token!r})")
        try:
            report = json.loads(answer)
            assert report["token"] == token
        except Exception:
            self._flag("the test guard did not answer before or after a test cell")
            return "the test guard did not answer"
        for what in report["undone"]:
            self._flag(f"{what} ({when})")
        if report["threads_running"]:
            return "background threads of the submission could not be stopped"
        if when.startswith("while") and report["undone"]:
            return "the tested code changed the test environment: " + "; ".join(report["undone"])
        return ""

    def _flag(self, what: str) -> None:
        if what not in self.tampering:
            self.tampering.append(what)

    def _kernel_expression(self, expression: str):
        """Evaluate ``expression`` in the kernel as a user expression; its value (a str) or None."""
        return run_sync(self._async_kernel_expression)(expression)

    async def _async_kernel_expression(self, expression: str):
        msg_id = self.kc.execute("", silent=True, store_history=False, user_expressions={"value": expression})
        while True:
            try:
                reply = await ensure_async(self.kc.get_shell_msg(timeout=self.timeout or 60))
            except Exception:
                return None
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        result = reply["content"].get("user_expressions", {}).get("value", {})
        if result.get("status") != "ok":
            return None
        try:
            return ast.literal_eval(result["data"]["text/plain"])
        except (KeyError, ValueError, SyntaxError):
            return None


def _settle_test_cell(cell, problem: str) -> None:
    """A test passes only by running without error: no returned number grants partial credit,
    and a test whose environment the guard could not vouch for fails with the reason."""
    cell.outputs = [o for o in cell.outputs if o.output_type not in ("execute_result", "display_data")]
    if problem:
        cell.outputs.append(NotebookNode(output_type="error", ename="GradingIntegrityError", evalue=problem,
                                         traceback=[f"GradingIntegrityError: {problem}"]))
