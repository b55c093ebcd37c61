"""Instructor tools: release, collect, autograde, feedback and grades for the course exercises."""
