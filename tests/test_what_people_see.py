"""What people see (issue 30): the pages of the class of four (``tests/test_what_people_read.py``), opened in a
real headless Chromium as a student and an instructor open them. Each page's text is read back from the
rendered page (the browser's ``innerText``, where a table row reads as its cells separated by tabs), axe-core
finds no serious or critical violation on it, and its full-page screenshot is kept: under pytest's ``tmp_path``,
and in the folder ``$AUTOGRADER_SCREENSHOTS`` names, when set."""

from __future__ import annotations

import statistics

from autograder import points
from autograder.classrun.class_report import FLAG_COLUMNS
from tests import browser
from tests.test_what_people_read import LENET, graded_class, rubric  # noqa: F401  (the class run, a fixture)
from tests.notebooks import WARMUP

PERCENT = 10  # dave's penalty: three started days late, two of them grace days


def full_marks(assignment: str) -> float:
    return rubric(assignment).max_points


def seen(page, screenshot) -> browser.Rendered:
    """``page`` rendered, with no serious or critical axe violation, its screenshot a real full page."""
    rendered = browser.render(page, screenshot)
    assert not rendered.serious(), rendered.serious()
    assert rendered.passes > 10  # axe ran its rules on a rendered page
    assert rendered.screenshot.stat().st_size > 20_000
    return rendered


def test_dave_sees_his_lateness_and_final_points(graded_class, tmp_path):
    out, _ = graded_class
    text = seen(out / "dave" / f"{LENET}.html", tmp_path / "dave-feedback.png").text
    raw = full_marks(LENET)
    raw_, final = points.shown(raw), points.shown(points.after_penalty(raw, PERCENT))
    assert f"Score: {final} / {raw_}" in text
    for words in ("Submitted 3 days late (a started day counts whole).", f"Points before lateness: {raw_} / {raw_}.",
                  "Grace days used: 2.", f"Late penalty: 10% for 1 day not covered by grace days, "
                  f"{points.counted(points.penalty_points(raw, PERCENT))} off.", f"Final score: {final} / {raw_}."):
        assert words in text, words
    assert f"Score: {raw_} / {raw_}" not in text


def test_the_class_report_shows_counts_the_missing_by_name_and_points_possible(graded_class, tmp_path):
    out, _ = graded_class
    text = seen(out / "class_report.html", tmp_path / "class-report.png").text
    lines = [line.strip(" ") for line in text.splitlines()]  # cells keep their tabs
    assert "assignment\tsubmitted\tmissing\tmean\tmedian\tbest\tpoints possible" in lines
    warm, lenet = full_marks(WARMUP), full_marks(LENET)
    shown = points.shown
    assert f"{WARMUP}\t1\t3\t{warm:.2f}\t{shown(warm)}\t{shown(warm)}\t{shown(warm)}" in lines  # alice's alone
    handed_in = [lenet, lenet, 0.0, points.after_penalty(lenet, PERCENT)]  # alice, bob, carol (unsolved), dave
    assert (f"{LENET}\t4\t0\t{statistics.mean(handed_in):.2f}\t{shown(statistics.median(handed_in))}\t"
            f"{shown(lenet)}\t{shown(lenet)}") in lines
    assert "\t".join(["student", *FLAG_COLUMNS]) in lines
    flagged = {line.split("\t")[0]: line.split("\t")[1:] for line in lines if line.count("\t") == len(FLAG_COLUMNS)}
    assert [flagged[s][0] for s in ("bob", "carol", "dave")] == ["00_warmup"] * 3 and "alice" not in flagged
    assert flagged["dave"][1] == "03_lenet5 3d -10% (2 grace)"
    assert "<!--" not in text and "\\_" not in text  # no markup shows as text
    assert "3 notebooks compared, 3 pairs among them, 3 shown." in lines  # the similarity section


def test_the_similarity_page_shows_the_pairs_compared(graded_class, tmp_path):
    out, _ = graded_class
    text = seen(out / "similarity.html", tmp_path / "similarity.png").text
    lines = [line.strip(" ") for line in text.splitlines()]  # cells keep their tabs
    assert "1 notebook compared, 0 pairs among them, 0 shown." in lines  # 00: alice's alone
    assert "3 notebooks compared, 3 pairs among them, 3 shown." in lines  # 03: alice, bob, dave; not carol
    assert "1. alice and bob: score 1.00" in lines
    assert text.count("code 100% alike") == 3  # once per pair
    assert "carol: no code of its own (empty, or only the released starter code)" in lines
