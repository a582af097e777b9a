"""Every route is the same route (issue 30): one class of 00_warmup graded by ``batch`` and by the nbgrader route
(real ``nbgrader autograde``) shows the same final points in every output a person reads.

The class: ann hands in the reference on time (full marks), bob the reference two started days late with one
grace day (10% off), carol hands in nothing (0, flagged missing). Each route's grading folder is read as its
readers read it: ``grades.csv``, ``gradebook.csv``, the class report, each student's ``summary.md`` and feedback
page (as ``feedback --to`` hands them back), the lines each command prints, and the Canvas and Moodle exports.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from autograder import points
from autograder.grading import load_rubrics
from autograder.sandbox import bwrap_problem
from autograder.paths import ROOT
from tests.notebooks import WARMUP, variant
from tests.routes import new_course

needs_sandbox = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")

PERCENT = 10  # bob: two started days late, one of them a grace day
STAMPS = {"ann": "2026-10-01 20:00:00", "bob": "2026-10-03 09:59:00"}  # carol: nothing handed in
COURSE = (f'[due]\n"{WARMUP}" = 2026-10-01T23:59:00Z\n\n'
          "[late]\npercent_per_day = 10\nmax_percent = 50\ngrace_days = 1\n")
ROSTER = "Student,ID,SIS User ID,SIS Login ID,Section,github_username,email\n" + "".join(
    f"{s.title()},{i},S{i},{s}@uni,Lab 1,{s},{s}@uni.example\n" for i, s in enumerate(("ann", "bob", "carol"), 1))
ROUTES = ("batch", "nbgrader")


def cli(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
    return done


def full_marks() -> float:
    return points.rounded(next(r for r in load_rubrics() if r.name == WARMUP).max_points)


def expected() -> dict[str, str]:
    """Final points per student, as every output must show them."""
    full = full_marks()
    return {"ann": points.shown(full), "bob": points.shown(points.after_penalty(full, PERCENT)), "carol": "0"}


def the_class(tmp_path: Path) -> Path:
    """The nbgrader course with the class handed in (``submitted/``; carol's folder empty), and its course.toml."""
    course = new_course(tmp_path, WARMUP)
    for student, stamp in STAMPS.items():
        variant(course / "submitted" / student, WARMUP)
        (course / "submitted" / student / WARMUP / "timestamp.txt").write_text(f"{stamp}.000000 UTC")
    (course / "submitted" / "carol").mkdir()
    (course / "course.toml").write_text(COURSE)
    return course


@dataclass(frozen=True)
class Route:
    grading: Path  # its grading folder
    printed: str  # what its command printed (stdout and stderr)
    handed_back: Path  # what `feedback --to` wrote


@pytest.fixture(scope="module")
def graded(tmp_path_factory, data_dir) -> dict[str, Route]:
    """Each route's class, exported and handed back."""
    tmp = tmp_path_factory.mktemp("routes")
    course = the_class(tmp)
    nbgrader = cli("autograde", "--course", str(course), "--profile", "smoke", WARMUP)
    batch = cli("batch", str(course / "submitted"), "--out", str(tmp / "batch"), "--profile", "smoke",
                "--assignment", WARMUP, "--course-config", str(course / "course.toml"), "--data-dir", str(data_dir))
    roster = tmp / "roster.csv"
    roster.write_text(ROSTER)
    found = {"batch": Route(tmp / "batch", batch.stdout + batch.stderr, tmp / "handed-back-batch"),
             "nbgrader": Route(course / "grading", nbgrader.stdout + nbgrader.stderr, tmp / "handed-back-nbgrader")}
    for route in found.values():
        for fmt in ("canvas", "moodle"):
            cli("export", str(route.grading), "--format", fmt, "--roster", str(roster), timeout=300)
        cli("feedback", str(route.grading), "--to", str(route.handed_back), timeout=300)
    return found


def table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def grades_csv(route: Route) -> dict[str, str]:
    return {r["student"]: r["points"] for r in table(route.grading / "grades.csv") if r["assignment"] == WARMUP}


def gradebook_csv(route: Route) -> dict[str, str]:
    rows = table(route.grading / "gradebook.csv")
    assert all(r["total"] == r[WARMUP] for r in rows)
    return {r["student"]: r[WARMUP] for r in rows}


def summaries(route: Route) -> dict[str, str]:
    """The total at the top of each student's ``summary.md`` (the copy handed back, where `feedback` hands one
    back: not to carol, who handed nothing in)."""
    found = {}
    for path in sorted(route.grading.glob("*/summary.md")):
        copy = route.handed_back / path.parent.name / path.name
        text = copy.read_text() if copy.is_file() else path.read_text()
        match = re.search(r"^# Autograder results \(smoke profile\): ([\d.]+) / ", text, re.MULTILINE)
        found[path.parent.name] = match.group(1) if match else text[:300]
    assert sorted(p.parent.name for p in route.handed_back.glob("*/summary.md")) == ["ann", "bob"]
    return found


def feedback_pages(route: Route) -> dict[str, str]:
    """The score on each handed-back feedback page (carol, who handed nothing in, has none), with the late
    penalty in words where one applies."""
    found = {}
    for path in sorted(route.handed_back.glob(f"*/{WARMUP}.html")):
        text = path.read_text()
        match = re.search(r"Score: ([\d.]+) / ", text)
        found[path.parent.name] = match.group(1) if match else "no score"
        if path.parent.name == "bob" and f"Final score: {match.group(1) if match else ''} / " not in text:
            found["bob"] += " (no word of lateness)"
    found.setdefault("carol", "0")  # nothing handed in, no page: nothing else to read
    return found


def canvas(route: Route) -> dict[str, str]:
    rows = list(csv.reader((route.grading / "export-canvas.csv").open(newline="")))
    column = next(i for i, h in enumerate(rows[0]) if h.startswith(WARMUP))
    assert rows[1][0] == "Points Possible" and rows[1][column] == points.shown(full_marks())
    return {r[0].lower(): r[column] for r in rows[2:]}


def moodle(route: Route) -> dict[str, str]:
    rows = list(csv.reader((route.grading / "export-moodle.csv").open(newline="")))
    column = rows[0].index(WARMUP)
    return {r[0].split("@")[0]: r[column] for r in rows[1:]}


def class_report(route: Route) -> dict[str, str]:
    """The class report's row for 00 (submitted, missing, mean, median, best, points possible), and who it flags
    missing."""
    text = (route.grading / "class_report.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| {WARMUP} |"))
    flagged = text.split("## Students flagged")[1].split("\n## ")[0]
    missing = sorted(line.split("|")[1].strip() for line in flagged.splitlines()
                     if line.startswith("| ") and WARMUP.replace("_", "\\_") in line.split("|")[2])
    return {"row": row, "missing": " ".join(missing)}


def printed(route: Route) -> dict[str, str]:
    """Each student's final total in the lines the route's command printed (``bob: 3.6 / 4 (late penalty: ...)``)."""
    found = {}
    for line in route.printed.splitlines():
        match = re.fullmatch(r"(\w+): ([\d.]+) / [\d.]+( \(late penalty: [\d.]+ points? off\))?", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


OUTPUTS: dict[str, Callable[[Route], dict[str, str]]] = {
    "grades.csv": grades_csv, "gradebook.csv": gradebook_csv, "summary.md": summaries,
    "feedback page": feedback_pages, "canvas": canvas, "moodle": moodle, "printed": printed}


@pytest.mark.notebooks
@needs_sandbox
@pytest.mark.parametrize("output", OUTPUTS)
def test_every_output_shows_the_same_final_points_on_both_routes(graded, output):
    shown = {route: OUTPUTS[output](graded[route]) for route in ROUTES}
    assert shown["batch"] == shown["nbgrader"] == expected(), shown


@pytest.mark.notebooks
@needs_sandbox
def test_the_class_report_counts_the_same_class_on_both_routes(graded):
    full, late = full_marks(), points.after_penalty(full_marks(), PERCENT)
    figures = [f"{(full + late) / 2:.2f}", points.shown((full + late) / 2), points.shown(full), points.shown(full)]
    row = f"| {WARMUP} | 2 | 1 | {' | '.join(figures)} |"
    assert {route: class_report(graded[route]) for route in ROUTES} == dict.fromkeys(
        ROUTES, {"row": row, "missing": "carol"})


@pytest.mark.notebooks
@needs_sandbox
def test_the_class_tables_are_the_same_on_both_routes(graded):
    """Row for row, flags included (a notebook never handed in is missing on both, not untimed on one)."""
    for name in ("grades.csv", "gradebook.csv"):
        tables = {route: table(graded[route].grading / name) for route in ROUTES}
        assert tables["batch"] == tables["nbgrader"], (name, tables)


@pytest.mark.notebooks
@needs_sandbox
def test_both_commands_print_the_late_penalty_in_the_same_words(graded):
    full = full_marks()
    line = (f"bob: {points.shown(points.after_penalty(full, PERCENT))} / {points.shown(full)} (late penalty: "
            f"{points.counted(points.penalty_points(full, PERCENT))} off)")
    assert all(line in graded[route].printed.splitlines() for route in ROUTES), {r: graded[r].printed for r in ROUTES}


@pytest.mark.notebooks
@needs_sandbox
def test_nbgrader_s_own_export_agrees(graded):
    nbgrader = table(graded["nbgrader"].grading / "nbgrader_grades.csv")  # nbgrader's CSV, beside grades.csv
    assert {r["student_id"]: points.shown(float(r["score"])) for r in nbgrader} == expected()


def test_the_nbgrader_route_flags_a_notebook_never_handed_in(tmp_path):
    """Without running a notebook: nbgrader's gradebook holds ann's submission and carol, who handed nothing in;
    the route's tables show carol's 0 and flag it missing by name, as ``batch`` does."""
    from nbgrader.api import Gradebook

    from autograder.classrun import store
    from autograder.classrun.lateness import CourseConfig, LatePolicy
    from autograder.course.nbgrader_reports import ROUTE_KEY, write_class_tables
    from autograder.results import CheckResult, Status

    rubric = next(r for r in load_rubrics() if r.name == WARMUP)
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db) as gradebook:
        gradebook.add_assignment(WARMUP)
        for student in ("ann", "carol"):
            gradebook.update_or_create_student(student)
        gradebook.add_submission(WARMUP, "ann")
    rows = [CheckResult(rubric.id, c.id, c.description, c.points, c.points, Status.PASS, "ok").to_dict()
            for c in rubric.checks]
    store.store_result(tmp_path / "grading", {"student": "ann", "assignment": WARMUP, "key": ROUTE_KEY,
                                              "grader": store.grader_version(), "profile": "smoke", "seed": 0,
                                              "results": rows, "timings": {}})
    write_class_tables(tmp_path / "grading", db, CourseConfig({}, LatePolicy()), [rubric], {})
    full = points.shown(full_marks())
    assert grades_csv(Route(tmp_path / "grading", "", tmp_path)) == {"ann": full, "carol": "0"}
    wide = {r["student"]: r for r in table(tmp_path / "grading" / "gradebook.csv")}
    assert (wide["carol"][WARMUP], wide["carol"]["missing"], wide["ann"]["missing"]) == ("0", WARMUP, "")
    assert class_report(Route(tmp_path / "grading", "", tmp_path)) == {
        "row": f"| {WARMUP} | 1 | 1 | {full_marks():.2f} | {full} | {full} | {full} |", "missing": "carol"}


def test_a_notebook_never_handed_in_is_flagged_missing_not_untimed():
    """batch measures lateness for every planned notebook: one never handed in has no time, but it is missing,
    not a submission without a trustworthy time (the nbgrader route, which measures none, agrees)."""
    from autograder.classrun.class_report import student_flags
    from autograder.classrun.lateness import Lateness
    from autograder.course.nbgrader_reports import not_handed_in
    from autograder.pipeline.report import flags

    nb = not_handed_in(next(r for r in load_rubrics() if r.name == WARMUP))
    nb.lateness = Lateness(None, None, untimed="no timestamp.txt")
    cells = student_flags([nb])
    assert flags(nb) == [] and (cells["missing"], cells["late"]) == (WARMUP, "")
