"""The student-facing API of the course: what a notebook imports.

``coursework.submit`` saves a notebook's work for grading, ``coursework.grade_cell``
runs one rubric check from an nbgrader grade cell, ``coursework.choose_profile`` picks
the profile a notebook runs, and ``coursework.datasets`` and
``coursework.pretrained`` load the course's data and weights. Nothing here
imports the grader (:mod:`autograder`), so a student's sandboxed kernel can
import this package while the grader's checks, rubrics and hidden cases stay out
of its sight.
"""

from coursework.errors import CourseError
from coursework.grade_cell import grade_cell
from coursework.profile import choose_profile
from coursework.submit import submit

__all__ = ["CourseError", "choose_profile", "grade_cell", "submit"]
