"""Hostile assignment folders: staging copies regular files and folders only, bounded, never through a symlink."""

import csv
import os

import pytest

from autograder.errors import StagingError
from autograder.paths import ROOT
from autograder.pipeline.stage import stage
from tests.notebooks import WARMUP, variant

RELEASED = ROOT / "assignments" / WARMUP / f"{WARMUP}.ipynb"
CAP = 50_000_000
FILES = 1_000


def submission(root, name="student"):
    """A correct warm-up submission; returns its assignment folder."""
    return variant(root / name, WARMUP) / WARMUP


def staged(folder, workdir, copy_bytes=CAP, copy_files=FILES):
    return stage(folder / f"{WARMUP}.ipynb", RELEASED, workdir, copy_bytes, copy_files)


def test_a_symlink_loop_is_skipped_and_named(tmp_path):
    folder = submission(tmp_path)
    (folder / "loop").symlink_to(".")
    (folder / "sub").mkdir()
    (folder / "sub" / "up").symlink_to("..")
    result = staged(folder, tmp_path / "work")
    assert not os.path.lexists(result.directory / "loop") and not os.path.lexists(result.directory / "sub" / "up")
    assert "loop (a symlink)" in result.notes and "sub/up (a symlink)" in result.notes
    assert result.tampering == []
    row = result.result("00")
    assert row.status == "pass" and "loop (a symlink)" in row.message


def test_a_symlink_to_dev_zero_is_never_read(tmp_path):
    folder = submission(tmp_path)
    (folder / "data.npz").symlink_to("/dev/zero")
    result = staged(folder, tmp_path / "work")
    assert not os.path.lexists(result.directory / "data.npz")
    assert "data.npz (a symlink)" in result.notes


def test_special_files_are_skipped(tmp_path):
    folder = submission(tmp_path)
    os.mkfifo(folder / "pipe")
    result = staged(folder, tmp_path / "work")
    assert not os.path.lexists(result.directory / "pipe")
    assert "pipe (not a regular file)" in result.notes


def test_a_symlinked_notebook_is_refused(tmp_path):
    other = submission(tmp_path, "other")
    folder = variant(tmp_path / "thief", WARMUP) / WARMUP
    (folder / f"{WARMUP}.ipynb").unlink()
    (folder / f"{WARMUP}.ipynb").symlink_to(other / f"{WARMUP}.ipynb")
    with pytest.raises(StagingError, match="is a symlink, not a regular file"):
        staged(folder, tmp_path / "work")


def test_a_symlinked_assignment_folder_is_refused(tmp_path):
    other = submission(tmp_path, "other")
    (tmp_path / "thief").mkdir()
    (tmp_path / "thief" / WARMUP).symlink_to(other)
    with pytest.raises(StagingError, match="is a symlink"):
        staged(tmp_path / "thief" / WARMUP, tmp_path / "work")


def test_the_size_cap_counts_nothing_behind_a_symlink_and_everything_copied(tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 3_000_000)
    folder = submission(tmp_path)
    (folder / "weights.bin").symlink_to(big)
    result = staged(folder, tmp_path / "work", copy_bytes=1_000_000)
    assert not os.path.lexists(result.directory / "weights.bin")  # never copied, so never counted
    (folder / "sub").mkdir()
    (folder / "sub" / "real.bin").write_bytes(b"x" * 600_000)
    (folder / "real.bin").write_bytes(b"x" * 600_000)
    with pytest.raises(StagingError, match="more than the 1,000,000 bytes allowed"):
        staged(folder, tmp_path / "work", copy_bytes=1_000_000)


def test_the_file_count_is_capped(tmp_path):
    folder = submission(tmp_path)
    for i in range(20):
        (folder / f"f{i}.txt").write_text("x")
    with pytest.raises(StagingError, match="more than 10 files"):
        staged(folder, tmp_path / "work", copy_files=10)


@pytest.mark.notebooks
def test_a_hostile_student_costs_only_their_own_notebook(tmp_path):
    """One batch: a folder full of traps first, a notebook linked to another student's, then a good one."""
    from autograder.classrun.run import grade_class
    from autograder.grading import GradingSettings

    students = tmp_path / "submitted"
    traps = submission(students, "a_traps")
    (traps / "loop").symlink_to(".")
    (traps / "data.npz").symlink_to("/dev/zero")
    os.mkfifo(traps / "pipe")
    good = submission(students, "c_good")
    thief = submission(students, "b_thief")
    (thief / f"{WARMUP}.ipynb").unlink()
    (thief / f"{WARMUP}.ipynb").symlink_to(good / f"{WARMUP}.ipynb")
    out = tmp_path / "grading"
    graded = grade_class(students, out, ["00"], GradingSettings(limits={"cell_timeout": 60}))

    rows = {r["student"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert set(rows) == {"a_traps", "b_thief", "c_good"}
    assert float(rows["c_good"]["points"]) == 4 and float(rows["a_traps"]["points"]) == 4
    traps_rows = {r.id: r for r in graded["a_traps"][0].results}
    assert traps_rows["locked_cells"].status == "pass"
    for name in ("loop (a symlink)", "data.npz (a symlink)", "pipe (not a regular file)"):
        assert name in traps_rows["locked_cells"].message
    thief_rows = graded["b_thief"][0].results
    assert float(rows["b_thief"]["points"]) == 0 and {r.status for r in thief_rows} == {"error"}
    assert all("00_warmup.ipynb is a symlink, not a regular file" in r.message for r in thief_rows)
