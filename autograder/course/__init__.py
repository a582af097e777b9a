"""Instructor tooling: release, the nbgrader route, calibration, collecting repositories."""
