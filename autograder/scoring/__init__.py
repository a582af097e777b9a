"""What the grader builds and trains itself when it scores: architectures read through an allow-list
(:mod:`~autograder.scoring.architecture`), training recipes validated or taken from the course
(:mod:`~autograder.scoring.recipe`), and the networks a locked cell defines (:mod:`~autograder.scoring.locked`)."""
