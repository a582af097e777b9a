"""Autograder for the convolutional-networks coursework: stage -> execute -> score -> report.

The student-facing API (``submit``, ``grade_cell``, data loaders, pretrained
weights) is the separate package :mod:`coursework`; the two names below are
kept so that notebooks written against ``autograder.submit`` still work where
the grader is installed. Heavy frameworks (TensorFlow, Keras, torch) are
imported only inside the functions that need them, so importing this package
is instant.
"""

from coursework import grade_cell, submit

__version__ = "0.2.0"
__all__ = ["__version__", "grade_cell", "submit"]
