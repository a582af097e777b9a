"""Every error the grader raises on purpose derives from :class:`AutograderError`.

The command line catches that one class and prints its message; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

from coursework.errors import AutograderError

__all__ = [
    "AutograderError", "ArtifactError", "CheckTimeout", "MissingArtifact", "ModelLoadError", "ReleaseError",
    "RubricError", "StagingError",
]


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
