"""What students and instructors read is right (issue 30): every score shown agrees with ``grades.csv``, the
class report counts what it says, the similarity section counts the pairs it compared.

The class of four, as a new instructor tried it: alice hands in 00 and 03 (both full marks); bob hands in 03 only
(alice's, renamed); carol hands in 03 unsolved; dave hands in 03 (full marks) three started days late, two of them
covered by grace days, so 10% off. ``batch`` runs in this process with the executor replaced by one that answers
each job with a stored-style result (grading real notebooks is slow; the numbers are what matter here).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import signal
from pathlib import Path

import nbformat
import pytest

from autograder import points
from autograder.classrun import store
from autograder.grading import NOT_SUBMITTED, load_rubrics
from autograder.results import CheckResult, Status
from tests.notebooks import REFERENCE, RELEASED, WARMUP

LENET = "03_lenet5"
DUE = dt.datetime(2026, 10, 1, 23, 59, tzinfo=dt.timezone.utc)
HANDED_IN = {"alice": (WARMUP, LENET), "bob": (LENET,), "carol": (LENET,), "dave": (LENET,)}
LATE = {"dave": dt.timedelta(days=2, hours=1)}  # three started days: two of grace, one at 10%
COURSE = f"""[due]
"{LENET}" = {DUE.isoformat().replace("+00:00", "Z")}

[late]
percent_per_day = 10
max_percent = 50
grace_days = 2
"""


def rubric(name: str):
    return next(r for r in load_rubrics() if r.name == name)


def rows(assignment: str, student: str) -> list[dict]:
    """What the grader found: full marks where handed in (carol's unsolved 03: nothing), missing otherwise."""
    r = rubric(assignment)
    if assignment not in HANDED_IN[student]:
        return [CheckResult(r.id, s.id, s.description, 0.0, s.points, Status.MISSING,
                            f"{r.name}/{r.notebook} {NOT_SUBMITTED}").to_dict() for s in r.checks]
    solved = student != "carol"
    return [CheckResult(r.id, s.id, s.description, s.points if solved else 0.0, s.points,
                        Status.PASS if solved else Status.ERROR, "ok" if solved else "NotImplementedError"
                        ).to_dict() for s in r.checks]


def executed_notebook(student: str, assignment: str) -> bytes:
    """The notebook as handed in: the reference (bob's: alice's, recommented), carol's the released one, unsolved;
    so that the similarity section compares real code (alice, bob and dave alike; carol's has none of her own)."""
    notebook = rubric(assignment).notebook
    nb = nbformat.read((RELEASED if student == "carol" else REFERENCE) / assignment / notebook, as_version=4)
    for c in nb.cells:
        if student == "bob" and c.cell_type == "code":
            c.source = "# my own work\n" + c.source
    return nbformat.writes(nb).encode()


@pytest.fixture()
def graded_class(tmp_path, data_dir, monkeypatch, capsys):
    """The class of four graded by ``batch`` (executor faked); (grading folder, batch's stdout)."""
    from autograder import cli as command
    from autograder.classrun import run

    def execute(queue, settings, jobs=None, address=None):
        for job in queue:
            files = ({rubric(job.assignment).notebook: executed_notebook(job.student, job.assignment)}
                     if job.assignment in HANDED_IN[job.student] else {})
            yield job, {"student": job.student, "assignment": job.assignment, "key": job.key,
                        "grader": store.grader_version(), "profile": "smoke", "seed": 0, "notebook_seed": 0,
                        "results": rows(job.assignment, job.student), "timings": {"stage_s": 0.1}, "files": files}

    monkeypatch.setitem(run.EXECUTORS, "local", execute)
    class_dir, out = tmp_path / "submitted", tmp_path / "grading"
    for student, handed in HANDED_IN.items():
        for assignment in handed:
            folder = class_dir / student / assignment
            folder.mkdir(parents=True)
            when = DUE + LATE.get(student, -dt.timedelta(hours=1))
            (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"))
    config = tmp_path / "course.toml"
    config.write_text(COURSE)
    old = signal.getsignal(signal.SIGTERM)
    try:
        code = command.main(["batch", str(class_dir), "--out", str(out), "--no-sandbox", "--data-dir",
                             str(data_dir), "--assignment", "00", "03", "--course-config", str(config)])
    finally:
        signal.signal(signal.SIGTERM, old)
    assert code == 0
    return out, capsys.readouterr().out


def table(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_output_shows_the_late_students_final_points(graded_class, tmp_path):
    out, printed = graded_class
    long = {(r["student"], r["assignment"]): r for r in table(out / "grades.csv")}
    dave = long["dave", LENET]
    assert (dave["points"], dave["raw_points"], dave["max_points"], dave["penalty_percent"]) == ("9", "10", "10", "10")
    wide = {r["student"]: r for r in table(out / "gradebook.csv")}
    assert (wide["dave"][LENET], wide["dave"]["total"]) == ("9", "9")
    assert "dave: 9 / 14 (late penalty: 1 point off)" in printed
    assert "alice: 14 / 14\n" in printed
    summary = (out / "dave" / "summary.md").read_text()
    assert "# Autograder results (smoke profile): 9 / 14" in summary
    assert "| 03 " in summary and "| 9 / 10 |" in summary
    words = ("Submitted 3 days late (a started day counts whole). Points before lateness: 10 / 10. Grace days used: "
             "2. Late penalty: 10% for 1 day not covered by grace days, 1 point off. Final score: 9 / 10.")
    assert words in summary
    page = (out / "dave" / "03_lenet5.html").read_text()
    assert "Score: 9 / 10" in page and "Grace days used: 2" in page and "1 point off" in page
    assert "Submitted" not in (out / "alice" / "summary.md").read_text()  # on time: no word of lateness

    from autograder import cli as command

    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section,github_username,email\n" + "".join(
        f"{s.title()},{i},S{i},{s}@uni,Lab 1,{s},{s}@uni.example\n" for i, s in enumerate(HANDED_IN, 1)))
    for fmt in ("canvas", "moodle", "csv"):
        assert command.main(["export", str(out), "--format", fmt, "--roster", str(roster)]) == 0
    canvas = list(csv.reader((out / "export-canvas.csv").open()))
    assert canvas[-1][-2:] == ["0", "9"]
    moodle = list(csv.reader((out / "export-moodle.csv").open()))
    assert moodle[-1] == ["dave@uni.example", "0", "9"]
    plain = {r["student"]: r for r in table(out / "export-csv.csv")}
    assert plain["dave"]["total"] == "9" and plain["alice"]["total"] == "14"


def test_the_class_report_counts_notebooks_handed_in_and_names_the_missing(graded_class):
    out, _ = graded_class
    report = (out / "class_report.md").read_text()
    assert "| assignment | submitted | missing | mean | median | best | points possible |" in report
    assert "| 00_warmup | 1 | 3 | 4.00 | 4 | 4 | 4 |" in report  # alice's alone; the others flagged
    assert "| 03_lenet5 | 4 | 0 | 7.25 | 9.5 | 10 | 10 |" in report  # 10, 10, 0, 9: after the penalty
    wide = {r["student"]: r for r in table(out / "gradebook.csv")}
    assert [wide[s]["missing"] for s in HANDED_IN] == ["", WARMUP, WARMUP, WARMUP]
    assert "03_lenet5 3d -10% (2 grace)" in wide["dave"]["late"]
    html = (out / "class_report.html").read_text()
    assert "&lt;!--" not in html and "<!--" not in html


def test_grammar_and_rounding_live_in_one_place():
    assert points.counted(1) == "1 point" and points.counted(0.8) == "0.8 points" and points.counted(2) == "2 points"
    assert points.after_penalty(8, 10) == 7.2 and points.penalty_points(8, 10) == 0.8
    assert points.after_penalty(1 / 3, 0) == 0.333
    s = points.total([points.Score(8, 8, 0.8, 10), points.Score(0, 4)])
    assert (s.raw, s.possible, s.penalty, s.final, s.describe()) == (8, 12, 0.8, 7.2, "7.2 / 12")


def test_the_late_penalty_arithmetic_lives_in_points_alone():
    root = Path(__file__).resolve().parents[1] / "autograder"
    found = [p.relative_to(root).as_posix() for p in root.rglob("*.py") if "/ 100" in p.read_text()]
    assert found == ["points.py"]


# --- the similarity section's counts ----------------------------------------------------------------------------

def test_similarity_bins_hold_their_upper_edge():
    from autograder.similarity.report import bin_label, histogram

    counts = histogram([1.0, 0.0, 0.3, 0.95, 0.9])
    assert counts[9] == 2 and counts[8] == 1 and counts[2] == 1 and counts[0] == 1
    assert bin_label(9) == "0.9–1.0"


def test_similarity_counts_pairs_among_the_notebooks_compared():
    from autograder.similarity import AssignmentSimilarity
    from autograder.similarity.report import counts_line

    three = AssignmentSimilarity(LENET, ["alice", "bob", "dave"], {"carol": "no code of its own"}, [], [0.1] * 3,
                                 compared=["alice", "bob", "dave"])
    assert counts_line(three) == "3 notebooks compared, 3 pairs among them, 0 shown."
    one = AssignmentSimilarity(WARMUP, ["alice"], {}, [], [], compared=["alice"])
    assert counts_line(one) == "1 notebook compared, 0 pairs among them, 0 shown."


def test_similarity_excerpts_end_at_line_ends_and_reasons_are_said_once():
    from autograder.similarity import Pair
    from autograder.similarity.code import cut_at_line, whole_lines
    from autograder.similarity.report import _code_line

    text = "def f(x):\n    return x + 1\nprint(f(2))\n"
    assert whole_lines(text, 3, 20) == "def f(x):\n    return x + 1"
    assert cut_at_line("a = 1\nreturn_value = 2\n", 10) == "a = 1\n..."
    pair = Pair("alice", "bob")
    pair.code, pair.matched_chars, pair.reasons = 1.0, 120, ["code 100% alike"]
    assert "100%" not in _code_line(pair)
    pair.reasons = []
    assert _code_line(pair).startswith("code 100% alike")


def test_progress_reads_elapsed_then_left():
    import io

    from autograder.progress import LiveProgress

    live = LiveProgress(io.StringIO())
    live.start(2)
    try:
        texts = [getattr(c, "text_format", type(c).__name__) for c in live._bar.columns]
    finally:
        live._bar.stop()
    assert texts.index("elapsed") < texts.index("TimeElapsedColumn") < texts.index("left") \
        < texts.index("TimeRemainingColumn")
