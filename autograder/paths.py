"""Where the course's folders are, relative to this checkout.

In an installed grader (the wheel workflows use) there is no checkout: the
released notebooks travel as package data, ``autograder/released/`` (in the
repository a link to ``.released/``), and nothing else of the course does.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
SOURCE_DIR = ROOT / "source"  # instructor notebooks, with nbgrader markup
ASSIGNMENTS_DIR = ROOT / "assignments"  # what students get (nbgrader generate_assignment) and edit
# A pristine copy of the released notebooks, written by release: the locked cells a check restores from
# (students edit assignments/ itself, so it cannot be its own reference). In the repository
# ``autograder/released`` is a link to ``.released/``; in the wheel it is the copy itself.
RELEASED_DIR = (PACKAGE / "released").resolve()
REFERENCE_DIR = ROOT / "reference_solutions"  # the released notebooks, completed from source/
