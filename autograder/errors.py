"""Every error the grader raises on purpose derives from :class:`AutograderError`, itself a
:class:`coursework.errors.CourseError` like the student API's own (a data set not found, weights missing).

The command line catches ``CourseError`` and prints its message; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

from coursework.errors import CourseError

__all__ = [
    "AutograderError", "CourseError", "ArtifactError", "CheckTimeout", "MissingArtifact", "ModelLoadError", "ReleaseError",
    "RubricError", "StagingError",
]


class AutograderError(CourseError):
    """An expected failure of the grader, with a message meant for people."""


class RubricError(AutograderError, ValueError):
    """A rubric file is malformed."""


class StagingError(AutograderError, ValueError):
    """The submission cannot be staged (unreadable notebook, too large, a symlink, ...)."""


class ReleaseError(AutograderError, RuntimeError):
    """nbgrader could not generate or grade an assignment."""


class ModelLoadError(AutograderError, ValueError):
    """The path holds no model the inspector can load."""


class MissingArtifact(AutograderError, FileNotFoundError):
    """A file a check needs was not written by the notebook."""


class ArtifactError(AutograderError, ValueError):
    """An artifact exists but cannot be read (corrupt, too large, wrong format)."""


class CheckTimeout(AutograderError, TimeoutError):
    """The student's code, run by a check, did not finish in time."""
