"""The table `make test` prints at the end: wall time per chapter notebook and per test file (or
solution notebook), slowest first, with each chapter's CPU time against its budget.

Budgets live in one place, the "Chapter budgets" table of CONTRIBUTING.md. A chapter is over budget
when its CPU seconds exceed it: CPU time does not grow when other work shares the machine, wall
time does. This is a report, not a test: nothing fails on time.
"""
import json
import re
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "_build" / "chapter_times.json"
BUDGET_ROW = re.compile(r"^\|\s*(chapters/\S+\.ipynb)\s*\|\s*(\d+)\s*\|\s*$", re.M)
STARTED = time.time()


def chapter_budgets() -> dict[str, int]:
    return {name: int(seconds) for name, seconds in BUDGET_ROW.findall((REPO / "CONTRIBUTING.md").read_text())}


def seconds_per_file(stats: dict) -> dict[str, float]:
    """Seconds spent per test file (set-up, call and tear-down of all its tests)."""
    seconds = defaultdict(float)
    for reports in stats.values():
        for report in reports:
            if hasattr(report, "duration") and hasattr(report, "nodeid") and report.nodeid:
                seconds[report.nodeid.split("::")[0]] += report.duration
    return seconds


def print_timing_table(terminal) -> None:
    rows = []  # (wall seconds, CPU seconds or None, note, name)
    if REPORT.exists() and REPORT.stat().st_mtime >= STARTED:  # chapters run by this session
        budgets = chapter_budgets()
        for run in json.loads(REPORT.read_text()):
            budget, cpu = budgets.get(run["notebook"]), run["cpu_s"]
            note = run["status"]
            if budget is None:
                note += ", no budget in CONTRIBUTING.md"
            elif cpu is not None and cpu > budget:
                note += f", OVER BUDGET ({budget} s CPU)"
            elif budget is not None:
                note += f", budget {budget} s CPU"
            rows.append((run["wall_s"] or 0.0, cpu, note, run["notebook"]))
    rows += [(seconds, None, "tests", name) for name, seconds in seconds_per_file(terminal.stats).items()]
    if not rows:
        return
    terminal.write_sep("=", "wall time per notebook and test file, slowest first")
    terminal.write_line(f"{'wall s':>8} {'CPU s':>8}  {'what':<44} notes")
    for wall, cpu, note, name in sorted(rows, key=lambda row: -row[0]):
        cpu_text = f"{cpu:8.1f}" if cpu is not None else f"{'':>8}"
        terminal.write_line(f"{wall:8.1f} {cpu_text}  {name:<44} {note}")
