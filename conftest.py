"""How the whole test suite runs: in parallel where it pays, and with a timing report at the end.

- Notebook kernels and graders run beside each other on a few cores: idle OpenMP threads must
  sleep instead of spinning, or they steal the cores the other processes wait for.
- Under pytest-xdist (`make test` runs `pytest -n auto --dist loadfile`) the tests of one file stay
  on one worker (a notebook's cells run in order in one kernel, a module's fixtures are built once),
  and the test files that need the built book go to one worker together, first, since theirs is
  the longest path.
- In CI (the variable ``CI`` set) a skipped test is a failure: a missing browser, database driver
  or library the course needs must not turn its tests into a silent skip. Two kinds of skip are
  by design: the CUDA variants (CI has no GPU) and a test whose twin covers this machine (its
  reason starts with ``NOT_THIS_MACHINE``).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by every kernel the tests start

import pytest  # noqa: E402
from xdist.scheduler import LoadScopeScheduling  # noqa: E402

from tests.timing_report import print_timing_table  # noqa: E402

NOT_THIS_MACHINE = "not this machine's path:"  # a skip reason that says a twin test covers this machine
SKIPS_ALLOWED_IN_CI = ("no CUDA GPU", NOT_THIS_MACHINE)
BOOK_FIXTURES = {"book_html", "chapter_runs"}
BOOK_TEST_FILES = {"tests/test_book.py", "tests/test_browser.py", "tests/test_launch.py"}  # built once, on one worker


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class OneWorkerPerFile(LoadScopeScheduling):
    """Send each test file whole to one worker, and all the book's test files to the same one."""

    def _split_scope(self, nodeid: str) -> str:
        return "book" if file_of(nodeid) in BOOK_TEST_FILES else file_of(nodeid)


def pytest_xdist_make_scheduler(config, log):
    return OneWorkerPerFile(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BOOK_FIXTURES & set(getattr(item, "fixturenames", ())) and file_of(item.nodeid) not in BOOK_TEST_FILES:
            raise pytest.UsageError(f"{item.nodeid} needs the built book: put it in one of {sorted(BOOK_TEST_FILES)} "
                                    "(conftest.py), so the book is built once, on one worker")
    # Stable sort: the book's tests first (the scheduler hands out files in this order).
    items.sort(key=lambda item: file_of(item.nodeid) not in BOOK_TEST_FILES)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not any(allowed in reason for allowed in SKIPS_ALLOWED_IN_CI):
            report.outcome = "failed"
            report.longrepr = f"skipped in CI, where everything the course needs must run: {reason}"


def pytest_terminal_summary(terminalreporter, config):
    if not hasattr(config, "workerinput"):  # only the controller sees every report
        print_timing_table(terminalreporter)
