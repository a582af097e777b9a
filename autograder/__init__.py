"""Autograder for the convolutional-networks coursework.

Heavy frameworks (TensorFlow, Keras, torch) are imported only inside the
functions that need them, so importing this package is instant.
"""

__version__ = "0.1.0"


def submit(output_dir, **kwargs):
    """Save a notebook's models, histories and answers for grading (see :mod:`autograder.submission`)."""
    from autograder.submission import submit as _submit

    return _submit(output_dir, **kwargs)


def grade_cell(assignment: str, check_id: str, output_dir, profile: str = "full") -> None:
    """Run one rubric check on a notebook's artifacts, in a separate process.

    nbgrader grade cells call this: the check runs outside the student's
    kernel, and a failure raises AssertionError with the check's message.
    """
    from autograder.scoring import grade_cell as _grade_cell

    _grade_cell(assignment, check_id, output_dir, profile)
