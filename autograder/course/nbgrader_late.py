"""The course's late policy inside nbgrader: a ``LateSubmissionPlugin`` that charges what ``batch`` charges.

``autograde`` gives nbgrader each assignment's due date from ``course.toml`` (``nbgrader db assignment add
--duedate``) and this plugin (``--AssignLatePenalties.plugin_class``). nbgrader measures how late a submission
is (its ``timestamp.txt`` against the due date); the plugin spends the student's grace days over the
assignments the gradebook holds, in due-date order, and returns the penalty in points
(:func:`autograder.classrun.lateness.apply_policy`, the function ``batch`` uses). nbgrader's export then shows
``raw_score``, ``late_submission_penalty`` and ``score`` per notebook.

nbgrader reads ``timestamp.txt`` from the staged copy of ``submitted/``, which holds regular files only
(:func:`autograder.course.nbgrader_course.stage_submitted`): a symlink is never followed, and a submission whose
time nbgrader could not read has none in the gradebook. With a due date, :func:`submission_lateness` makes that
submission ``untimed``, which the class tables flag by name (nbgrader itself charges it nothing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Optional

from nbgrader.plugins import LateSubmissionPlugin

from autograder.classrun.lateness import COURSE_CONFIG, TIMESTAMP, Lateness, apply_policy, read_config
from autograder.points import penalty_points

UNTIMED = f"nbgrader read no time from {TIMESTAMP} (none, unreadable, or not a regular file)"


class CoursePolicy(LateSubmissionPlugin):
    """Percent off per day late, capped, after the student's grace days: ``[late]`` of ``course.toml``."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> Optional[float]:
        from nbgrader.coursedir import CourseDirectory

        assignment = self.parent.assignment_id
        config = read_config(Path(CourseDirectory(config=self.config).root) / COURSE_CONFIG)
        late, due = {}, {}
        for submission in self.parent.gradebook.find_student(student_id).submissions:
            name = submission.assignment.name
            late[name] = submission_lateness(submission)
            if submission.assignment.duedate is not None:
                due[name] = _utc(submission.assignment.duedate)
        late[assignment] = Lateness(None, float(total_seconds_late))
        percent = apply_policy(config.policy, late, due)[assignment].penalty_percent
        self.log.info("%s %s: %g s late, %g%% off (%s)", student_id, assignment, total_seconds_late, percent,
                      config.policy.describe())
        return penalty_points(score, percent) if percent else None


def submission_lateness(submission: Any) -> Lateness:
    """One submission of nbgrader's gradebook (a ``SubmittedAssignment``) as a :class:`Lateness`, no policy
    applied: the seconds late nbgrader measured; ``untimed`` where the assignment has a due date and the
    submission no timestamp."""
    stamp, duedate = submission.timestamp, submission.assignment.duedate
    if stamp is None:
        return Lateness(None, None, untimed=UNTIMED if duedate is not None else "")
    seconds = float(submission.total_seconds_late or 0) if duedate is not None else None
    return Lateness(_utc(stamp).isoformat(), seconds)


def _utc(moment: dt.datetime) -> dt.datetime:
    """nbgrader's naive datetimes are UTC."""
    return moment.replace(tzinfo=dt.timezone.utc)
