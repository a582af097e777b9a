"""The root of every error the course's code raises on purpose."""


class AutograderError(Exception):
    """An expected failure with a message meant for people: the CLI prints it without a traceback."""
