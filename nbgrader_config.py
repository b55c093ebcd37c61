"""nbgrader configuration for the course (read by every `nbgrader` and `python -m instructor` command).

solutions/<assignment>/<assignment>.ipynb   source, with solutions and hidden tests
exercises/<assignment>/<assignment>.ipynb   student release, generated (`make release`)
submitted/, autograded/, feedback/          per-class state, git-ignored
"""
import os

c = get_config()  # noqa: F821 (nbgrader's config loader provides get_config)

c.CourseDirectory.course_id = "dl-hands-on"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# The gradebook: SQLite in the course folder by default; point NBGRADER_DB_URL at
# PostgreSQL (postgresql://user:password@host/dbname) for a shared course server.
c.CourseDirectory.db_url = os.environ.get("NBGRADER_DB_URL", "sqlite:///gradebook.db")
# Never copy these into a release or a submission's autograded folder.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# What a student sees where a solution was.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Autograding: a cell that runs longer than this is interrupted and counts as failed, so an
# infinite loop cannot hang the run (COURSE_CELL_TIMEOUT overrides it, in seconds).
c.Execute.timeout = int(os.environ.get("COURSE_CELL_TIMEOUT", "60"))
c.Execute.interrupt_on_timeout = True

# `python -m instructor collect ASSIGNMENT export.zip` (instructor/collect.py) reads the entries at
# the top of the export named "<name>_<user id>_<submission id>_<notebook>.ipynb" (Canvas: the
# student is the numeric user id) or "<id>_<notebook>.ipynb", and lists every other entry it skips.
c.Collect.max_file_mb = 20  # largest notebook unpacked from an export
c.Collect.max_total_mb = 4096  # most one collect unpacks in all

# Feedback (`python -m instructor feedback`, and formgrader's button): never the hidden tests,
# only what failed; outputs capped and without active HTML (see instructor/feedback.py).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "instructor.feedback.SafeFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.sanitize_html = True
c.OutputLimits.max_lines = 100  # lines kept of each output of a graded notebook
c.OutputLimits.max_bytes = 10_000  # characters kept of each output

# The sandbox each student's kernel runs in (`python -m instructor autograde`; see
# instructor/sandbox.py and the threat model in chapters/instructors.md).
# `autograde` prints which limits hold on this machine (per student, or only per process).
c.Sandbox.memory_mb = 4096  # memory a student's kernel and all its processes may use together
c.Sandbox.max_processes = 256  # processes and threads a student's sandbox may hold
c.Sandbox.cgroups = True  # limit those two per student with control groups where possible
c.Sandbox.disk_mb = 1024  # size of the kernel's working folder (and of its /dev/shm)
c.Sandbox.cpu_seconds = 600  # CPU time each kernel process may use
c.Sandbox.file_size_mb = 64  # largest file a kernel may write
c.Sandbox.interrupt_grace = 5  # seconds a cell past its time limit has to stop before its kernel is killed
c.Sandbox.notebook_timeout = 900  # seconds a whole notebook may take
c.Sandbox.max_notebook_mb = 20  # a larger submitted notebook fails that student, unread
c.Sandbox.readable_paths = ["utils"]  # course folders graded code may read (the test helpers)
c.Sandbox.require = os.environ.get("COURSE_REQUIRE_SANDBOX", "") == "1"  # refuse to grade without bwrap
c.Sandbox.user = "nobody"  # when grading as root, the user kernels run as ('' keeps root)
