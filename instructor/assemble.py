"""The notebook that is graded: the release's cells, in the release's order, with the student's answers.

A submission is not graded as it stands. Of it, only the sources of its answer cells (code
answers and written answers) are kept, found by their nbgrader ``grade_id``; every other cell
(instructions, the locked set-up, the tests with their hidden part) comes from the gradebook,
in the order of the release students received. So a moved, renamed or unmarked set-up cell,
a pasted or deleted test and cells the student added change nothing that runs: the tests
always run after the set-up the release defines. A submission in which an answer cell cannot
be found fails, with the reason; what differs from the release is reported for review.
"""
import copy
import json
from collections import Counter
from dataclasses import dataclass

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook, MissingEntry

from .course import Course
from .files import printable


class SetupError(Exception):
    """The release cannot serve as the template of grading (not released, or out of date)."""


class Unmatched(Exception):
    """A submission whose answers cannot be matched to the release's answer cells."""


@dataclass
class Template:
    """One notebook of the release: cells as graded (the gradebook's sources), answers still stubs."""

    name: str
    nb: nbformat.NotebookNode
    answers: list[str]  # grade ids of the answer cells, in order
    order: list[str]  # grade ids of all cells, in order


def grade_id(cell) -> str | None:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    value = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return value if isinstance(value, str) else None


def load_templates(course: Course, assignment: str) -> dict[str, Template]:
    """The release of each notebook of ``assignment``, checked against the gradebook."""
    templates = {}
    with Gradebook(course.db_url) as gradebook:
        for source in course.source_notebooks(assignment):
            name = source.stem
            release = course.folder("release") / assignment / source.name
            if not release.exists():
                raise SetupError(f"no {release.relative_to(course.root)}: run `python -m instructor release "
                                 f"{assignment}`")
            try:
                stored = {cell.name: cell for cell in gradebook.find_notebook(name, assignment).source_cells}
            except MissingEntry:
                raise SetupError(f"{name} of {assignment} is not in the gradebook: run `python -m instructor "
                                 f"release {assignment}`") from None
            templates[name] = _template(name, nbformat.read(release, as_version=4), stored)
    return templates


def _template(name: str, nb, stored: dict) -> Template:
    order = [grade_id(cell) for cell in nb.cells]
    unknown = [f"cell {i}" for i, (cell, gid) in enumerate(zip(nb.cells, order))
               if (gid is None or gid not in stored) and _restored(cell)]
    missing = sorted(set(stored) - set(order))
    ids = [gid for gid in order if gid is not None]
    if unknown or missing or len(set(ids)) != len(ids):
        what = ", ".join(unknown + missing) or "a grade id used twice"
        raise SetupError(f"the release of {name} and the gradebook differ ({what}): run `python -m instructor "
                         f"release` again")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        gid = grade_id(cell)
        if gid in stored and not nbgrader_utils.is_solution(cell):
            if stored[gid].cell_type != cell.cell_type:
                raise SetupError(f"cell {gid} of {name} is {cell.cell_type} in the release but "
                                 f"{stored[gid].cell_type} in the gradebook: run `python -m instructor release` again")
            cell.source = stored[gid].source  # the tests with their hidden part
    answers = [grade_id(cell) for cell in nb.cells if nbgrader_utils.is_solution(cell)]
    return Template(name, nb, answers, order)


def _restored(cell) -> bool:
    return nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell) or nbgrader_utils.is_locked(cell)


def assemble(template: Template, submission: bytes) -> tuple[nbformat.NotebookNode, list[str]]:
    """The notebook to grade and what in ``submission`` differs from the release (for review).

    Raises :class:`Unmatched` (with the reason) when the submission is not a notebook, or an
    answer cell of the release appears nowhere in it."""
    try:
        cells = json.loads(submission.decode("utf-8", errors="replace")).get("cells")
    except (ValueError, RecursionError, AttributeError) as error:
        raise Unmatched(f"is not a valid notebook ({type(error).__name__}: {str(error)[:120]})") from None
    if not isinstance(cells, list):
        raise Unmatched("is not a valid notebook (it has no list of cells)")
    found = {}
    for cell in cells:
        gid = grade_id(cell)
        if gid is not None:
            found.setdefault(gid, []).append(cell)
    answers, unmatched = {}, []
    for gid in template.answers:
        source = _source(found[gid][-1]) if gid in found else None  # as nbgrader: the last copy counts
        if source is None:
            unmatched.append(gid)
        answers[gid] = source
    if unmatched:
        raise Unmatched(f"cannot be matched to the release: no answer cell with grade id {', '.join(unmatched)} "
                        f"(deleted, or its nbgrader metadata removed or changed)")
    nb = copy.deepcopy(template.nb)
    for cell in nb.cells:
        if grade_id(cell) in answers:
            cell.source = answers[grade_id(cell)]
    return nb, _differences(template, [grade_id(cell) for cell in cells], found)


def _source(cell) -> str | None:
    source = cell.get("source")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return source if isinstance(source, str) else None


def _differences(template: Template, ids: list, found: dict) -> list[str]:
    """What the submission changed in the release's structure (the release's was graded)."""
    counts = Counter(gid for gid in ids if gid is not None)
    notes = [f"cell {gid} appears {n} times (the last copy of an answer is graded)"
             for gid, n in counts.items() if n > 1 and gid in template.order]
    removed = [gid for gid in template.order if gid is not None and gid not in found]
    if removed:
        notes.append(f"deleted or unmarked cells: {', '.join(removed)} (the release's were graded)")
    present = [gid for gid in dict.fromkeys(ids) if gid in template.order]
    if present != [gid for gid in template.order if gid in present]:
        notes.append("cells moved out of the release's order (graded in the release's order)")
    foreign = sorted(gid for gid in counts if gid not in template.order)
    if foreign:
        shown = ", ".join(printable(gid, 40) for gid in foreign[:5])
        notes.append(f"cells with grade ids the release does not have: {shown}"
                     + (f" (+{len(foreign) - 5} more)" if len(foreign) > 5 else ""))
    return notes
