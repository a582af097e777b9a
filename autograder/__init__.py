"""Autograder for the convolutional-networks coursework: stage -> execute -> score -> report.

The student-facing API (``submit``, ``grade_cell``, data loaders, pretrained
weights) is the separate package :mod:`coursework`. Heavy frameworks
(TensorFlow, Keras, torch) are imported only inside the functions that need
them, so importing this package is instant.
"""

__version__ = "0.2.0"
