"""The scoring worker: a crash or a hang costs one submission, and the next one is scored again."""

import os
from concurrent.futures import wait
from pathlib import Path

import coursework
from autograder import rubric as rubrics
from autograder.pipeline.score import ScoringPool
from tests.modelzoo import keras_lenet5


def test_a_dead_worker_is_an_error_then_replaced(tmp_path):
    coursework.submit(tmp_path, model=keras_lenet5(), answers={"params": {}})
    rubric = rubrics.find("03")
    pool = ScoringPool()
    try:
        pool._pool().submit(os._exit, 1)  # the worker dies, as it would on a crashing artifact
        results = pool.score(rubric, "smoke", tmp_path, None)
        assert {r.status for r in results} == {"error"}
        assert "scoring process died" in results[0].message
        again = {r.id: r.status for r in pool.score(rubric, "smoke", tmp_path, None)}
        assert again["param_count"] == "pass" and again["layers"] == "pass"
    finally:
        pool.close()


def test_a_process_that_dies_before_reading_anything_costs_no_notebook_a_point(tmp_path):
    """Each notebook's process is started ahead of it; one that dies before its notebook (here during its warm-up)
    is the grader's failure: the notebook is scored in another."""
    coursework.submit(tmp_path, model=keras_lenet5(), answers={"params": {}})
    rubric = rubrics.find("03")
    pool = ScoringPool()
    try:
        pool.warm_up()
        for process in pool._executor._processes.values():
            process.kill()
        wait([pool._warming], timeout=60)
        statuses = {r.id: r.status for r in pool.score(rubric, "smoke", tmp_path, None)}
        assert statuses["param_count"] == "pass" and statuses["layers"] == "pass", statuses
    finally:
        pool.close()


def test_a_hanging_job_times_out(tmp_path):
    coursework.submit(tmp_path, model=keras_lenet5())
    rubric = rubrics.find("03")
    pool = ScoringPool()
    try:
        results = pool.score(rubric, "smoke", tmp_path, None,
                             limits=rubric.profiles["smoke"].limits.replace({"scoring_timeout": 0.5}))
        assert {r.status for r in results} == {"timeout"}
        assert "stopped" in results[0].message
    finally:
        pool.close()


def test_corrupt_artifacts_are_errors_not_crashes(tmp_path):
    from autograder.pipeline.score import score

    coursework.submit(tmp_path, model=keras_lenet5())
    (tmp_path / "answers.json").write_text("{ not json")
    (tmp_path / "model.keras").write_bytes(b"not a zip")
    results = {r.id: (r.status, r.message) for r in score(rubrics.find("03"), "smoke", tmp_path, None)}
    assert results["layers"][0] == "error" and "cannot be loaded safely" in results["layers"][1]
    assert results["params_by_hand"][0] == "error"
    assert results["params_by_hand"][1].startswith("answers.json is not valid JSON")  # answers are read first


def test_the_scoring_worker_has_no_network():
    """It reads artifacts a student wrote: it runs in a network namespace of its own (a down loopback only)."""
    import socket

    pool = ScoringPool()
    try:
        names = [name for _, name in pool._pool().submit(socket.if_nameindex).result(timeout=120)]
        assert names == ["lo"], names
    finally:
        pool.close()


def test_scoring_past_the_memory_cap_costs_one_notebook(tmp_path):
    """The scoring side runs under the profile's memory_bytes (RLIMIT_DATA), as a kernel does: past it, this
    notebook's checks are errors, and the next notebook is scored as ever."""
    coursework.submit(tmp_path, model=keras_lenet5(), answers={"params": {}})
    rubric = rubrics.find("03")
    limits = rubric.profiles["smoke"].limits
    pool = ScoringPool()
    try:
        starved = pool.score(rubric, "smoke", tmp_path, None, limits=limits.replace({"memory_bytes": 50_000_000}))
        statuses = {r.id: r.status for r in starved}
        assert statuses["param_count"] == "error" and statuses["layers"] == "error", statuses
        again = {r.id: r.status for r in pool.score(rubric, "smoke", tmp_path, None)}
        assert again["param_count"] == "pass" and again["layers"] == "pass"
    finally:
        pool.close()


def test_an_unprivileged_grader_leaves_the_network_and_can_still_nest_a_sandbox(tmp_path):
    """As a student's `make check` runs it: a user namespace mapping the user to itself (else bubblewrap, which
    the harness starts from the scoring process, could not nest), and no network."""
    import shutil
    import subprocess
    import sys

    import pytest

    from autograder.paths import ROOT

    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("bwrap"):
        pytest.skip("needs root (to become another user), setpriv and bwrap")
    code = ("import os, socket, subprocess, sys; sys.path.insert(0, %r); from autograder import workers; "
            "print(workers.without_network(), os.getuid(), [n for _, n in socket.if_nameindex()]); "
            "print(subprocess.run(['bwrap', '--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', "
            "'/dev', 'true']).returncode)" % str(ROOT))
    done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.stdout.split("\n")[:2] == ["True 65534 ['lo']", "0"], done.stdout + done.stderr


def test_closing_ends_the_next_notebooks_process_without_waiting_for_its_warm_up(tmp_path):
    """After the last notebook the process started for a next one is ended at once (its import of Keras not
    waited for), and no process is left."""
    pool = ScoringPool()
    pool.score(rubrics.find("03"), "smoke", tmp_path, None, static_only=True)
    pool.notebook_done()
    warming, processes = pool._warming, list(pool._executor._processes.values())
    pool.close()
    wait([warming], timeout=60)  # the pool's own thread settles it, after close
    assert warming.done() and (warming.cancelled() or warming.exception() is not None)
    assert processes and _all_gone(processes, timeout=120)


def _all_gone(processes: list, timeout: float) -> bool:
    """Whether every process has ended within ``timeout`` s. The pool's own thread joins them too: the thread that
    loses the race to reap one sees no exit status for a while (``is_alive`` stays true), so /proc decides."""
    import time

    deadline = time.monotonic() + timeout
    while any(p.is_alive() and Path(f"/proc/{p.pid}").exists() for p in processes):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
