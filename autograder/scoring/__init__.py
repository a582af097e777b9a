"""The scoring room: everything a check reads a notebook through, and what the grader builds and trains itself.

- :mod:`~autograder.scoring.context`: the :class:`ScoringContext` every check is written against;
- :mod:`~autograder.scoring.readers`, :mod:`~autograder.scoring.declared_size`: size-capped, symlink-proof reads
  of the artifacts, and a ``.keras`` file's declared sizes counted from its headers before anything expands;
- :mod:`~autograder.scoring.architecture`, :mod:`~autograder.scoring.recipe`, :mod:`~autograder.scoring.locked`:
  architectures read through an allow-list, training recipes validated or taken from the course, the networks a
  locked cell defines;
- :mod:`~autograder.scoring.retraining`, :mod:`~autograder.scoring.settle`, :mod:`~autograder.scoring.images`:
  the grader's own training of what it scores, BatchNormalization statistics settled for short profiles, and
  the grader's images prepared as a model reads them.
"""
