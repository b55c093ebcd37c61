"""What the browser tests share: Chromium through Playwright, a static web server for the built
book, a JupyterLab server in a throwaway course folder, and a log of everything a page got wrong.

Playwright's own browser download is not used: the tests drive the system's Chromium
(Debian: `apt-get install chromium`), or the executable named by the environment variable
COURSE_CHROMIUM.
"""
import contextlib
import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_executable() -> str | None:
    named = os.environ.get("COURSE_CHROMIUM")
    if named:
        return shutil.which(named)
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing(reason: str):
    """Skip a browser test when its tools are missing; under CI (variable CI set) that fails it."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def launch_chromium(playwright):
    executable = chromium_executable()
    if executable is None:
        missing("Chromium not found (apt-get install chromium, or set COURSE_CHROMIUM)")
    return playwright.chromium.launch(executable_path=executable)


@contextlib.contextmanager
def static_server(root: Path):
    """Serve `root` over HTTP on a free local port; yields its base URL, ending in '/'."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class PageLog:
    """Attach to a browser context: records console errors, uncaught exceptions, requests that
    failed or got an HTTP error, and blocks (and records) every request that leaves the machine,
    so a page that works here also works offline."""

    def __init__(self, context, local_base: str = "") -> None:
        self.problems: list[str] = []
        self.local = LOCAL_SCHEMES + ((local_base,) if local_base else ())
        context.route("**/*", self._route)
        context.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        context.on("weberror", lambda e: self.problems.append(f"uncaught exception: {e.error}"))
        context.on("requestfailed", lambda r: self._failed(r, r.failure))
        context.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _route(self, route) -> None:
        if route.request.url.startswith(self.local):
            route.continue_()
        else:
            self.problems.append(f"request to the internet (blocked): {route.request.url}")
            route.abort("internetdisconnected")

    def _failed(self, request, failure) -> None:
        if not request.url.startswith(self.local):
            return  # already reported as blocked
        self.problems.append(f"request failed ({failure}): {request.url}")

    def take(self) -> list[str]:
        """The problems seen since the last call (console messages arrive asynchronously)."""
        problems, self.problems = self.problems, []
        return problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(folder: Path, timeout: float = 90):
    """JupyterLab without a token on a free local port, serving `folder` (also its working folder,
    where nbgrader finds nbgrader_config.py), with its own settings and workspace; stopped, its
    kernels with it, on exit. Yields its base URL, ending in '/'."""
    port = free_port()
    state = folder / ".jupyter-state"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
           "OMP_WAIT_POLICY": "PASSIVE",
           # As `make lab`: nbgrader runs the tools it needs (alembic) by name, from the venv.
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               "--ServerApp.token=", "--ServerApp.password=", f"--ServerApp.root_dir={folder}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    log = (folder / "jupyter-lab.log").open("w")
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n"
                                   + (folder / "jupyter-lab.log").read_text()[-3000:])
            try:
                urllib.request.urlopen(base + "api/status", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter lab did not answer in {timeout} s") from None
                time.sleep(0.5)
        yield base
    finally:
        process.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)  # its own session: the server and the kernels it started
            process.wait(timeout=30)
        log.close()
