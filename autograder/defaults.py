"""The profiles the grader's routes default to, named once."""

from __future__ import annotations

TRY_PROFILE = "smoke"
"""A run a person starts to try: ``grade``, ``batch``, ``score``, ``calibrate``, the pytest plugin, GradingSettings."""

RECORD_PROFILE = "full"
"""The grade of record: nbgrader's ``autograde`` (``$CNN_PROFILE`` unset), and ``cost`` of grading a class."""
