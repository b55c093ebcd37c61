"""``python -m instructor grades``: every student's grade of every assignment, as CSV.

The columns and values are those of ``nbgrader export`` (a student without a submission scores
0), written so that a spreadsheet reads each value as the text it is: every field is quoted
where CSV needs it (a comma or a newline in a name cannot add a column or a row), and a text
field that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, which a
spreadsheet would run as a formula, is prefixed with ``'``.
"""
import csv

from nbgrader.api import Gradebook, MissingEntry

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
           "late_submission_penalty", "score", "max_score"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """A value as CSV text: '' for None, numbers as nbgrader writes them, text safe from formulas."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(float(value))
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_grades(db_url: str, output: str) -> int:
    """Write the grades CSV to ``output``; the number of rows written."""
    rows = []
    with Gradebook(db_url) as gradebook:
        for assignment in gradebook.assignments:
            for student in gradebook.students:
                row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                       "max_score": assignment.max_score}
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(timestamp=None, raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                else:
                    penalty = submission.late_submission_penalty
                    row.update(timestamp=submission.timestamp, raw_score=submission.score,
                               late_submission_penalty=penalty, score=max(0.0, submission.score - penalty))
                rows.append([cell(row[column]) for column in COLUMNS])
    with open(output, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)
