"""Shared fixtures. Tests read the course's real data through $CNN_COURSE_DATA
(the Makefile points it at ../shared/data) and never touch the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.classrun.resources import share_cores
from autograder.paths import ROOT

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CNN_COURSE_OFFLINE"] = "1"
# Parallel test workers sandbox as different users: RLIMIT_NPROC counts every process of a user.
# Each worker's job slots take 1,000 user ids from its base (autograder.sandbox.MAX_SLOTS).
# Assigned, not defaulted: xdist's workers inherit the controller's environment, where this file ran first.
# AUTOGRADER_TEST_UID_BASE moves the whole range (two test sessions side by side on one machine).
os.environ["AUTOGRADER_SANDBOX_UID"] = str(
    int(os.environ.get("AUTOGRADER_TEST_UID_BASE", "62000"))
    + 1000 * int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0))

# Parallel test workers share the cores as a class run's jobs do (PyTorch's threads spin while they wait).
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    share_cores(int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))

# Fixtures that grade notebooks end to end: every test that uses one (directly or through another fixture) is
# marked `notebooks`, the tier `make test-quick` leaves out. Tests that grade on their own carry the mark themselves.
NOTEBOOK_FIXTURES = frozenset({"reference_run"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``notebooks`` every test whose fixture closure holds a notebook-grading fixture."""
    for item in items:
        if NOTEBOOK_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.notebooks)


def referenced_assignments(items: list[pytest.Item]) -> set[str]:
    """The assignments whose reference the selected tests read (their ``assignment`` parameter)."""
    return {str(item.callspec.params["assignment"]) for item in items
            if "reference_run" in getattr(item, "fixturenames", ())
            and "assignment" in getattr(getattr(item, "callspec", None), "params", {})}


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, request):
    """``reference_run(assignment)``: that reference notebook graded (smoke) once per test run, when a test first
    needs it (so ``-k 03`` grades 03 alone), shared by xdist's workers: its output folder (the executed notebook)
    and its results.json, for tests/test_assignments.py and tests/test_course_teaching.py."""
    from tests.reference_grades import ReferenceGrades

    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        shared = shared.parent  # the run's folder, above each worker's own
    return ReferenceGrades(shared / "reference", referenced_assignments(request.session.items))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The course's data sets; tests that need them are skipped with a reason otherwise."""
    value = os.environ.get("CNN_COURSE_DATA") or str(ROOT.parent / "shared" / "data")
    path = Path(value)
    if not (path / "mnist.npz").exists():
        pytest.skip(f"course data not found at {path}: set CNN_COURSE_DATA")
    return path


@pytest.fixture()
def isolated_caches(tmp_path, monkeypatch):
    """Empty Keras and subset caches, no $CNN_COURSE_DATA: only what a test passes is found."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CNN_COURSE_DATA", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def trained_elsewhere():
    """The warm-up's network trained outside any graded run: the weights provenance attacks smuggle."""
    from tests import provenance_attacks

    return provenance_attacks.trained_elsewhere()
