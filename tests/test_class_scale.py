"""A class graded in parallel, interrupted, resumed, regraded in part and on a real Ray cluster.

Three warm-up submissions: an honest one (submitted two hours late), one that
hangs and one that crashes its kernel. Every run must end with the
``grades.csv`` of one uninterrupted sequential run.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.classrun.lateness import Lateness, due_dates, lateness
from autograder.grading import GradingSettings
from autograder.classrun.jobs import pack, unpack
from autograder.classrun.store import grader_version, job_key
from autograder.paths import ROOT
from autograder.sandbox import bwrap_problem
from tests.classes import Student, hand_in
from tests.notebooks import WARMUP, cell, variant

LENET = "03_lenet5"
LIMITS = ["--cell-timeout", "30", "--notebook-timeout", "90"]


def hangs(nb):  # idle, so that it leaves the cores to the other test workers
    cell(nb, "answers").source = "import time\nwhile True:\n    time.sleep(1)"


def crashes(nb):
    cell(nb, "answers").source = "import os\nos._exit(3)"


needs_sandbox = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
DUE = "2026-10-01T23:59:00Z"
STUDENTS = {"honest": Student(submitted="2026-10-02 01:59:00"),  # two hours late
            "hangs": Student(hangs, submitted="2026-09-30 12:00:00"),
            "crashes": Student(crashes)}  # no timestamp.txt


@pytest.fixture(scope="module")
def course(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("scale")
    class_dir, config = hand_in(root, STUDENTS, DUE)
    return root, class_dir, config, data_dir


def batch(course, out: Path, *extra: str, wait: bool = True):
    root, class_dir, config, data_dir = course
    command = [sys.executable, "-m", "autograder", "batch", str(class_dir), "--out", str(out), "--data-dir",
               str(data_dir), "--course-config", str(config), *LIMITS, *extra]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def sequential(course):
    out = course[0] / "sequential"
    proc = batch(course, out, "--jobs", "1")
    return out, proc


def rows(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((out / "grades.csv").open()))


def descendants(pid: int) -> set[int]:
    table = [line.split() for line in subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True,
                                                     text=True).stdout.splitlines()]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {int(p) for p, pp in table if int(pp) in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            left.add(pid)
    return left


@pytest.mark.notebooks
@needs_sandbox
def test_sequential_grades_lateness_gradebook_and_report(sequential):
    out, proc = sequential
    got = {r["student"]: r for r in rows(out)}
    assert {s: float(r["points"]) for s, r in got.items()} == {"crashes": 0, "hangs": 0, "honest": 4}
    assert "timeout" in got["hangs"]["statuses"] and "kernel-died" in got["crashes"]["statuses"]
    assert got["honest"]["seconds_late"] == "7200" and got["hangs"]["seconds_late"] == "0"
    assert got["crashes"]["submitted"] == got["crashes"]["seconds_late"] == ""  # no timestamp.txt
    assert "untimed" in got["crashes"]["flags"].split()  # ... with a due date: flagged, never on time
    wide = list(csv.DictReader((out / "gradebook.csv").open()))
    assert [(r["student"], r[WARMUP], r["total"]) for r in wide] == [("crashes", "0", "0"), ("hangs", "0", "0"),
                                                                     ("honest", "4", "4")]
    report = (out / "class_report.md").read_text()
    assert "[hangs](hangs/00_warmup.html)" in report and "[crashes](crashes/00_warmup.html)" in report
    assert "| 00_warmup | accuracy | 33% | 3 |" in report
    assert (out / "class_scores.png").stat().st_size > 1000 and "<table>" in (out / "class_report.html").read_text()
    assert (out / "hangs" / "00_warmup.html").is_file()
    assert proc.stderr.count("[") >= 3 and "[3/3]" in proc.stderr  # a plain line per notebook without a terminal


@pytest.mark.notebooks
@needs_sandbox
def test_interrupted_parallel_run_resumes_to_the_sequential_grades(course, sequential):
    out = course[0] / "parallel"
    run = batch(course, out, "--jobs", "2", wait=False)
    deadline = time.monotonic() + 900
    workers: set[int] = set()
    while not list(out.glob(f"*/{WARMUP}.result.json")):
        assert run.poll() is None and time.monotonic() < deadline, run.stderr.read() if run.poll() else "too slow"
        workers |= descendants(run.pid)
        time.sleep(0.5)
    workers |= descendants(run.pid)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr[-2000:]
    time.sleep(2)
    assert not alive(workers), "orphans after SIGTERM"
    finished = sorted(p.parent.name for p in out.glob(f"*/{WARMUP}.result.json"))
    assert sorted(r["student"] for r in rows(out)) == finished  # grades.csv holds what finished, nothing else
    resumed = batch(course, out, "--jobs", "2")
    assert f"{len(finished)} notebook(s) unchanged since their stored results: skipped" in resumed.stderr
    assert (out / "grades.csv").read_text() == (sequential[0] / "grades.csv").read_text()
    again = batch(course, out)  # a no-op rerun
    assert "3 notebook(s) unchanged" in again.stderr and "[1/" not in again.stderr


@pytest.mark.notebooks
@needs_sandbox
def test_student_option_regrades_only_those(course, sequential):
    out = sequential[0]
    before = {s: (out / s / f"{WARMUP}.result.json").stat().st_mtime_ns for s in ("honest", "hangs", "crashes")}
    proc = batch(course, out, "--student", "crashes")
    assert re.search(r"^\[1/1\] crashes 00_warmup: 0 / 4 points \(.*kernel-died.*\) in ", proc.stderr, re.M)
    after = {s: (out / s / f"{WARMUP}.result.json").stat().st_mtime_ns for s in before}
    assert [s for s in before if before[s] != after[s]] == ["crashes"]
    assert len(rows(out)) == 3


@pytest.mark.notebooks
@needs_sandbox
def test_ray_cluster_grades_as_the_local_executor(course, sequential):
    pytest.importorskip("ray")
    out = course[0] / "ray"
    proc = batch(course, out, "--executor", "ray", "--jobs", "2")  # ray.init(num_cpus=2): a local cluster
    assert (out / "grades.csv").read_text() == (sequential[0] / "grades.csv").read_text(), proc.stderr[-2000:]
    assert (out / "honest" / "00_warmup.html").is_file()
    rerun = batch(course, out, "--executor", "ray", "--jobs", "2")
    assert "3 notebook(s) unchanged" in rerun.stderr


def test_job_key_follows_the_submission_and_settings(tmp_path):
    variant(tmp_path / "s", WARMUP)
    settings = GradingSettings()
    key = job_key(tmp_path / "s", WARMUP, settings)
    assert job_key(tmp_path / "s", WARMUP, GradingSettings(slot=3)) == key  # the job slot is no input
    assert job_key(tmp_path / "s", WARMUP, GradingSettings(seed=1)) != key
    (tmp_path / "s" / WARMUP / "notes.txt").write_text("x")
    assert job_key(tmp_path / "s", WARMUP, settings) != key


def test_a_rubric_edit_changes_the_keys_of_its_own_assignment_only(tmp_path, monkeypatch):
    import shutil

    from autograder.rubric import RUBRIC_DIR, RUBRIC_DIR_VARIABLE

    variant(tmp_path / "s", WARMUP)
    variant(tmp_path / "s", LENET)
    keys = {a: job_key(tmp_path / "s", a, GradingSettings()) for a in (WARMUP, LENET)}
    version = grader_version()

    def use_copy(name: str, edit: str = "", text: str = "") -> None:
        folder = tmp_path / name  # versions are computed once per folder and process: each edit a folder
        shutil.copytree(RUBRIC_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
        if edit:
            (folder / edit).write_text(text)
        monkeypatch.setenv(RUBRIC_DIR_VARIABLE, str(folder))

    use_copy("unedited")
    assert {a: job_key(tmp_path / "s", a, GradingSettings()) for a in keys} == keys
    assert grader_version() == version
    lenet = (RUBRIC_DIR / f"{LENET}.toml").read_text()
    use_copy("lenet", f"{LENET}.toml", lenet.replace("points = 1", "points = 2", 1))
    assert job_key(tmp_path / "s", WARMUP, GradingSettings()) == keys[WARMUP]
    assert job_key(tmp_path / "s", LENET, GradingSettings()) != keys[LENET]
    assert grader_version() != version  # what a class's workers must agree on: all of the grader
    use_copy("limits", "limits.toml", (RUBRIC_DIR / "limits.toml").read_text() + "\n# edited\n")
    assert job_key(tmp_path / "s", WARMUP, GradingSettings()) != keys[WARMUP]


def test_pack_keeps_files_and_links_for_staging_to_judge(tmp_path):
    folder = tmp_path / "sub" / WARMUP
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.txt").write_text("a")
    (folder / "link").symlink_to("/etc/passwd")
    unpack(pack(folder, 10_000), tmp_path / "out")
    assert (tmp_path / "out" / WARMUP / "data" / "a.txt").read_text() == "a"
    assert os.readlink(tmp_path / "out" / WARMUP / "link") == "/etc/passwd"


def test_lateness_from_the_nbgrader_timestamp(tmp_path):
    config = tmp_path / "course.toml"
    config.write_text('[due]\n"00_warmup" = 2026-10-01T23:59:00+02:00\n')
    due = due_dates(config)[WARMUP]
    (tmp_path / "timestamp.txt").write_text("2026-10-01 22:00:00.000000 UTC")
    late = lateness(tmp_path, due)
    assert late == Lateness("2026-10-01T22:00:00+00:00", 60.0) and late.describe() == "late by 0:01:00"
    assert lateness(tmp_path, None).seconds_late is None
    assert lateness(tmp_path / "nowhere", None) == Lateness(None, None)  # no due date: no time to vouch for


def test_a_due_date_without_a_trustworthy_timestamp_is_flagged_never_on_time(tmp_path):
    """Attack: a timestamp.txt that is a symlink (to a plain file holding an early time), a folder, or nothing
    readable. None is followed or read, and each is flagged, not taken as on time."""
    due = dt.datetime(2026, 10, 1, 23, 59, tzinfo=dt.timezone.utc)
    (tmp_path / "early.txt").write_text("2026-09-01 00:00:00.000000 UTC")
    for name, make in [("missing", lambda p: None), ("linked", lambda p: p.symlink_to(tmp_path / "early.txt")),
                       ("folder", lambda p: p.mkdir()), ("garbled", lambda p: p.write_text("soon"))]:
        (tmp_path / name).mkdir()
        make(tmp_path / name / "timestamp.txt")
        late = lateness(tmp_path / name, due)
        assert (late.submitted, late.seconds_late) == (None, None) and late.untimed, name
        assert late.describe().startswith("no trustworthy time"), name
    assert "symlink" in lateness(tmp_path / "linked", due).untimed


def test_local_workers_share_the_cores_unless_told(monkeypatch):
    """Each of N local workers (and the kernels it starts) gets 1/N of the cores for OpenMP's threads, whose
    waiting spins; a thread count set by the instructor is kept."""
    from autograder import workers
    from autograder.classrun import executors, resources

    for preset, expected in [(None, str(resources.core_share(2))), ("3", "3")]:
        if preset is None:
            monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OMP_NUM_THREADS", preset)
        pool = workers.pool(2, executors._start_worker, 2)
        try:
            assert pool.submit(os.getenv, "OMP_NUM_THREADS").result(timeout=120) == expected
        finally:
            pool.shutdown()
