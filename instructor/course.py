"""Where things are in a course folder, read from its nbgrader_config.py."""
from dataclasses import dataclass
from pathlib import Path

from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


@dataclass
class Course:
    root: Path
    coursedir: CourseDirectory
    config: Config

    @classmethod
    def load(cls, root: Path | str = ".") -> "Course":
        root = Path(root).resolve()
        if not (root / "nbgrader_config.py").exists():
            raise SystemExit(f"no nbgrader_config.py in {root}: run this from the course folder")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        return cls(root, CourseDirectory(config=config, root=str(root)), config)

    @property
    def db_url(self) -> str:
        url = self.coursedir.db_url
        # A relative SQLite path means "in the course folder", wherever the command runs.
        if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
            url = f"sqlite:///{self.root / url[len('sqlite:///'):]}"
        return url

    def folder(self, step: str) -> Path:
        """solutions/, exercises/, submitted/, autograded/ or feedback/ (as configured)."""
        name = {"source": self.coursedir.source_directory, "release": self.coursedir.release_directory,
                "submitted": self.coursedir.submitted_directory, "autograded": self.coursedir.autograded_directory,
                "feedback": self.coursedir.feedback_directory}[step]
        return self.root / name

    def assignments(self) -> list[str]:
        return sorted(p.name for p in self.folder("source").iterdir() if p.is_dir() and not p.name.startswith("."))

    def source_notebooks(self, assignment: str) -> list[Path]:
        return sorted((self.folder("source") / assignment).glob("*.ipynb"))

    def students(self, assignment: str) -> list[str]:
        submitted = self.folder("submitted")
        if not submitted.exists():
            return []
        return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())
