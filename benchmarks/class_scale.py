"""Class scale: one class of warm-up notebooks graded with --jobs 1, with the default jobs, and rerun unchanged,
through the local executor and through a Ray cluster started here.

Prints the wall time of each run, the speed-up of the default jobs over one job (it should approach the core
count, or the GPU count), and the no-op rerun against the first run.
Usage: python benchmarks/class_scale.py [--students 12] [--no-ray]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.grading_overhead import ENV, class_dir  # noqa: E402


def batch(students: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder", "batch", str(students), "--out", str(out), *extra],
                          cwd=ROOT, env=ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"batch {' '.join(extra)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def points(out: Path) -> list[tuple[str, str]]:
    return [(r["student"], r["points"]) for r in csv.DictReader((out / "grades.csv").open())]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray executor")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from autograder.classrun.resources import default_jobs

    jobs = default_jobs()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-class-") as tmp:
        tmp = Path(tmp)
        students = class_dir(tmp / "class", args.students)
        one = batch(students, tmp / "one", "--jobs", "1")
        rows.append(("local, --jobs 1", one))
        executors = [("local", ())] + ([] if args.no_ray else [("ray", ("--executor", "ray"))])
        for name, extra in executors:
            out = tmp / name
            first = batch(students, out, *extra)
            rerun = batch(students, out, *extra)
            if points(out) != points(tmp / "one"):
                sys.exit(f"{name}: grades differ from --jobs 1")
            rows += [(f"{name}, default jobs ({jobs})", first), (f"{name}, no-op rerun", rerun)]
            shutil.rmtree(out)
    print(f"class of {args.students} warm-up notebooks; default jobs here: {jobs}")
    print(f"{'run':<32} {'wall s':>8} {'vs --jobs 1':>12}")
    for name, wall in rows:
        print(f"{name:<32} {wall:>8.1f} {one / wall:>11.2f}x")
    print("(same grades.csv points from every run)")


if __name__ == "__main__":
    main()
