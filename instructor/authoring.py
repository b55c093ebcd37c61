"""Write exercise notebooks with correct nbgrader metadata, and check existing ones.

An exercise notebook is a list of cells of five kinds (nbgrader's own terms):

========================  ===========================================================
``instructions(md)``      read-only markdown the student reads
``given_code(src)``       read-only code the student runs (imports, data)
``answer(src)``           autograded answer: code with ``### BEGIN SOLUTION`` ... ``### END SOLUTION``
``tests(src, points)``    autograder tests: read-only, worth ``points``; a block between
                          ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` is
                          removed from the release
``written_answer(md, points)``  manually graded markdown answer (the instructor grades it)
========================  ===========================================================

:func:`check_source` enforces the rules that keep grading honest; the test suite runs it on
every notebook in ``solutions/``.
"""
import re
from textwrap import dedent

import nbformat

SCHEMA_VERSION = 3
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _cell(kind: str, source: str, grade_id: str, *, grade: bool, solution: bool, locked: bool,
          points: float | None = None):
    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(dedent(source).strip("\n"))
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta
    if locked:
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False
    return cell


def instructions(source: str, grade_id: str):
    return _cell("markdown", source, grade_id, grade=False, solution=False, locked=True)


def given_code(source: str, grade_id: str):
    return _cell("code", source, grade_id, grade=False, solution=False, locked=True)


def answer(source: str, grade_id: str):
    return _cell("code", source, grade_id, grade=False, solution=True, locked=False)


def tests(source: str, grade_id: str, points: float):
    return _cell("code", source, grade_id, grade=True, solution=False, locked=True, points=points)


def written_answer(source: str, grade_id: str, points: float):
    return _cell("markdown", source, grade_id, grade=True, solution=True, locked=False, points=points)


def new_notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    return nb


def check_source(nb: nbformat.NotebookNode) -> list[str]:
    """Return every rule the source notebook breaks (an empty list means it is fine).

    - every cell has nbgrader metadata and a unique ``grade_id``;
    - autograder tests are locked and worth points > 0;
    - every autograded answer has its solution between BEGIN/END SOLUTION and is followed by
      a test cell before the next answer (so no answer goes untested);
    - hidden-test markers appear only in test cells, in matched pairs;
    - no stored outputs.
    """
    problems, seen, untested = [], set(), None
    for index, cell in enumerate(nb.cells):
        where = f"cell {index}"
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            problems.append(f"{where}: no nbgrader metadata (build cells with instructor.authoring)")
            continue
        grade_id = meta.get("grade_id", "")
        where = f"cell {index} ({grade_id})"
        if not grade_id or grade_id in seen:
            problems.append(f"{where}: grade_id missing or used twice")
        seen.add(grade_id)
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"{where}: has stored outputs")
        is_test = meta.get("grade") and not meta.get("solution")
        is_answer = meta.get("solution") and not meta.get("grade")
        has_hidden = "BEGIN HIDDEN TESTS" in cell.source
        if has_hidden and not is_test:
            problems.append(f"{where}: hidden tests outside an autograder test cell")
        if cell.source.count("### BEGIN HIDDEN TESTS") != cell.source.count("### END HIDDEN TESTS"):
            problems.append(f"{where}: unmatched hidden-test markers")
        if is_test:
            if not meta.get("locked"):
                problems.append(f"{where}: test cells must be locked")
            if not meta.get("points", 0) > 0:
                problems.append(f"{where}: test cell worth no points")
            untested = None
        if is_answer and cell.cell_type == "code":
            if not re.search(r"### BEGIN SOLUTION.*### END SOLUTION", cell.source, re.S):
                problems.append(f"{where}: answer cell without BEGIN/END SOLUTION")
            if untested is not None:
                problems.append(f"cell {untested}: answer not followed by a test cell")
            untested = index
    if untested is not None:
        problems.append(f"cell {untested}: answer not followed by a test cell")
    return problems
