"""Two gradings side by side, as two jobs of a class run (or two test workers) on one machine: with each
framework's default thread count, and with the cores shared between them (``OMP_NUM_THREADS``, what
:func:`autograder.classrun.resources.share_cores` sets). Prints both wall times and their ratio.

Usage: python benchmarks/thread_sharing.py [--python .venv-torch/bin/python] [--assignment 03 05]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.classrun.resources import core_share, cores  # noqa: E402


def side_by_side(python: str, assignments: list[str], env: dict[str, str]) -> float:
    """Wall seconds of two gradings of ``assignments`` started together."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        runs = [subprocess.Popen([python, "-m", "autograder", "grade", str(ROOT / "reference_solutions"),
                                  "--assignment", *assignments, "--out", str(Path(tmp) / f"run{i}")],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for i in range(2)]
        for run in runs:
            _, err = run.communicate()
            if run.returncode != 0:
                sys.exit(f"grading failed:\n{err[-3000:]}")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=str(ROOT / ".venv-torch" / "bin" / "python"))
    parser.add_argument("--assignment", nargs="+", default=["03", "05"])
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "KERAS_BACKEND")}
    default = side_by_side(args.python, args.assignment, env)
    shared = side_by_side(args.python, args.assignment, {**env, "OMP_NUM_THREADS": str(core_share(2))})
    print(f"two gradings of {' '.join(args.assignment)} side by side on {cores()} cores, {args.python}")
    print(f"default threads      {default:7.1f} s")
    print(f"cores shared         {shared:7.1f} s")
    print(f"ratio                {default / shared:7.2f}x")


if __name__ == "__main__":
    main()
