"""A class run above the one-notebook pipeline: jobs, executors, stored results, lateness, the class report."""
