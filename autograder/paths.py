"""Where the course's folders are, relative to this checkout.

In an installed grader (the wheel workflows use) there is no checkout: the
released notebooks travel as package data, ``autograder/released/`` (in the
repository a link to ``assignments/``), and nothing else of the course does.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
SOURCE_DIR = ROOT / "source"  # instructor notebooks, with nbgrader markup
RELEASED_DIR = (PACKAGE / "released").resolve()  # what students get (nbgrader generate_assignment)
REFERENCE_DIR = ROOT / "reference_solutions"  # the released notebooks, completed from source/
