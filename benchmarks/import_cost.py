"""What starting a grader process costs before it does anything: the imports every such process makes.

Each grading starts several Python processes (the CLI or a class run's worker, its scoring worker, nbgrader's
steps), and each imports nbformat, hence jsonschema. jsonschema 4.24 and later import rfc3987-syntax, which
compiles a lark grammar: with jsonschema 4.26.0 ``import nbformat`` took 1.05 s here, with 4.23.0 (the lock's)
0.14 s. Prints the median wall time of each import in a fresh interpreter, and jsonschema's version.
Usage: python benchmarks/import_cost.py [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import subprocess
import sys
import time

MODULES = ("nbformat", "autograder.pipeline.grade", "papermill", "nbconvert", "keras")


def seconds(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    empty = seconds("pass", args.repeat)
    print(f"python itself: {empty:.2f} s")
    print(f"jsonschema {importlib.metadata.version('jsonschema')}")
    for module in MODULES:
        print(f"import {module:<28} {seconds(f'import {module}', args.repeat) - empty:6.2f} s")


if __name__ == "__main__":
    main()
