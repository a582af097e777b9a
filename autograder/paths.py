"""Where the course's folders are, relative to this checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "source"  # instructor notebooks, with nbgrader markup
RELEASED_DIR = ROOT / "assignments"  # what students get (nbgrader generate_assignment)
REFERENCE_DIR = ROOT / "reference_solutions"  # the released notebooks, completed from source/
