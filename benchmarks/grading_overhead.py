"""The grader's own overhead per notebook, cold and warm, against vanilla nbgrader autograde.

Overhead is everything except the notebook's own cells: staging, kernel start,
scoring (with the grader's retraining), reports and feedback. The notebook's cell
time is taken from the executed notebooks (papermill's per-cell durations;
nbclient's execution timestamps for nbgrader, grade cells excluded since they are
nbgrader's scoring). The anchor is nbgrader as it comes: a course folder whose
config sets nothing but the course id and the Execute timeout, so that
``nbgrader autograde`` runs each notebook with its own Execute preprocessor (the
course's ``nbgrader_config.py`` would run this grader's pipeline instead).
Usage: python benchmarks/grading_overhead.py [--students N] [--no-references]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "00_warmup"
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


VANILLA_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "bench"
c.ExecutePreprocessor.timeout = 1800  # nbgrader's default (30 s) would stop a training cell under load
"""


def run(*args: str, cwd: Path = ROOT, env: dict | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def class_dir(root: Path, students: int) -> Path:
    for i in range(students):
        shutil.copytree(ROOT / "reference_solutions" / ASSIGNMENT, root / f"student{i:02d}" / ASSIGNMENT)
    return root


def cell_seconds(results: Path) -> float:
    return sum(t["cells_s"] for t in json.loads(results.read_text())["timings"].values())


def nbclient_cell_seconds(notebook: Path) -> float:
    total = 0.0
    for cell in json.loads(notebook.read_text())["cells"]:
        meta = cell.get("metadata", {})
        timing = meta.get("execution", {})
        if meta.get("nbgrader", {}).get("grade") or "shell.execute_reply" not in timing:
            continue
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        total += (end - start).total_seconds()
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--no-references", action="store_true", help="skip grading all of reference_solutions/")
    args = parser.parse_args()
    n = args.students
    python = sys.executable
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        # Cold: one notebook, one fresh process.
        single = class_dir(tmp / "single", 1) / "student00"
        wall = run(python, "-m", "autograder", "grade", str(single), "--out", str(tmp / "cold"))
        rows.append(("autograder, cold (1 notebook, new process)", wall, wall - cell_seconds(tmp / "cold" / "results.json"), 1))
        # Warm: a class in one batch run.
        students = class_dir(tmp / "class", n)
        wall = run(python, "-m", "autograder", "batch", str(students), "--out", str(tmp / "batch"))
        cells = sum(cell_seconds(p) for p in (tmp / "batch").glob("*/results.json"))
        rows.append((f"autograder, batch of {n}", wall, (wall - cells) / n, n))
        stages = [t for p in sorted((tmp / "batch").glob("*/results.json"))
                  for t in json.loads(p.read_text())["timings"].values()][1:]  # the first pays the imports
        steady = sum(t["stage_s"] + t["execute_s"] - t["cells_s"] + t["score_s"] + t["export_s"] for t in stages)
        rows.append((f"autograder, steady state in a batch (notebooks 2-{n})", None, steady / len(stages), None))
        scoring = sum(t["score_s"] for t in stages)
        rows.append(("  of which scoring (the grader's retraining included)", None, scoring / len(stages), None))
        # nbgrader autograde on the same notebooks.
        course = tmp / "course"
        course.mkdir()
        (course / "nbgrader_config.py").write_text(VANILLA_CONFIG)
        shutil.copytree(ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
        run(python, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", cwd=course)
        class_dir(course / "submitted", n)
        env = {**ENV, "CNN_PROFILE": "smoke"}
        wall = run(python, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create", "--force", cwd=course, env=env)
        cells = sum(nbclient_cell_seconds(p) for p in (course / "autograded").rglob("*.ipynb"))
        rows.append((f"vanilla nbgrader autograde (its Execute), {n} notebooks", wall, (wall - cells) / n, n))
        if not args.no_references:  # the whole reference submission
            wall = run(python, "-m", "autograder", "grade", str(ROOT / "reference_solutions"), "--out", str(tmp / "all"))
            rows.append(("autograder, all of reference_solutions/ (smoke)", wall, None, None))
    print(f"{'run':<58} {'wall s':>8} {'overhead s/notebook':>20}")
    for name, wall, overhead, _ in rows:
        print(f"{name:<58} {'' if wall is None else f'{wall:.2f}':>8} {'' if overhead is None else f'{overhead:.2f}':>20}")
    print("\none warm notebook's stages (s):", ", ".join(f"{k}={v}" for k, v in stages[-1].items()))
    print(f"steady-state overhead / vanilla nbgrader's: {rows[2][2] / rows[4][2]:.2f}; without scoring: "
          f"{(rows[2][2] - rows[3][2]) / rows[4][2]:.2f}")


if __name__ == "__main__":
    main()
