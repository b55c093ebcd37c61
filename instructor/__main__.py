"""`python -m instructor COMMAND`: the course's grading workflow (see chapters/instructors.md)."""
import sys

from .cli import main

if __name__ == "__main__":  # not when multiprocessing imports this module in a grading worker
    sys.exit(main())
