"""`python -m instructor COMMAND`: the course's grading workflow (see chapters/instructors.md)."""
import sys

from .cli import main

sys.exit(main())
