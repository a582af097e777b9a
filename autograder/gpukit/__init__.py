"""The GPU kit: what a GPU machine with no network needs to run the real grader, in parts that each fit one
command's carry (:mod:`autograder.gpukit.build`), and the one script that runs it there
(:mod:`autograder.gpukit.run`, standard library only)."""
