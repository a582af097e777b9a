"""The course's late policy inside nbgrader: a ``LateSubmissionPlugin`` that charges what ``batch`` charges.

``autograde`` gives nbgrader each assignment's due date from ``course.toml`` (``nbgrader db assignment add
--duedate``) and this plugin (``--AssignLatePenalties.plugin_class``). nbgrader measures how late a submission
is (its ``timestamp.txt`` against the due date); the plugin spends the student's grace days over the
assignments the gradebook holds, in due-date order, and returns the penalty in points
(:func:`autograder.classrun.lateness.apply_policy`, the function ``batch`` uses). nbgrader's export then shows
``raw_score``, ``late_submission_penalty`` and ``score`` per notebook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from nbgrader.plugins import LateSubmissionPlugin

from autograder.classrun.lateness import COURSE_CONFIG, Lateness, apply_policy, read_config
from autograder.grading import after_penalty


class CoursePolicy(LateSubmissionPlugin):
    """Percent off per day late, capped, after the student's grace days: ``[late]`` of ``course.toml``."""

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> Optional[float]:
        from nbgrader.coursedir import CourseDirectory

        assignment = self.parent.assignment_id
        config = read_config(Path(CourseDirectory(config=self.config).root) / COURSE_CONFIG)
        late, due = {}, {}
        for submission in self.parent.gradebook.find_student(student_id).submissions:
            name = submission.assignment.name
            late[name] = Lateness(None, float(submission.total_seconds_late or 0))
            if submission.assignment.duedate is not None:
                from datetime import timezone

                due[name] = submission.assignment.duedate.replace(tzinfo=timezone.utc)
        late[assignment] = Lateness(None, float(total_seconds_late))
        percent = apply_policy(config.policy, late, due)[assignment].penalty_percent
        self.log.info("%s %s: %g s late, %g%% off (%s)", student_id, assignment, total_seconds_late, percent,
                      config.policy.describe())
        return round(score - after_penalty(score, percent), 3) if percent else None
