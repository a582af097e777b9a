"""The root of every error the course's code (the student API and the grader) raises on purpose."""


class CourseError(Exception):
    """An expected failure with a message meant for people: the CLI prints it without a traceback."""
