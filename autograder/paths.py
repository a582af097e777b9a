"""Where the course's folders are, relative to this checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = ROOT / "source"  # instructor notebooks, with nbgrader markup
ASSIGNMENTS_DIR = ROOT / "assignments"  # what students get (nbgrader generate_assignment) and edit
# A pristine copy of the released notebooks, written by release beside assignments/: the locked cells a
# check restores from (students edit assignments/ itself, so it cannot be its own reference).
RELEASED_DIR = ROOT / ".released"
REFERENCE_DIR = ROOT / "reference_solutions"  # the released notebooks, completed from source/
