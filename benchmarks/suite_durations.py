"""Where `make test`'s time goes: pytest's own durations summed per test file.

Runs the suite as `make test` does (``pytest -n auto --dist loadfile``) with ``--durations=0``, or reads the
output of such a run (``--log FILE``), and prints each file's seconds (set-up, call and teardown of its tests,
summed: time on one worker), their total and pytest's wall time. With ``loadfile`` each file runs on one worker,
so on N workers the wall time is at least the total divided by N, and at least the largest file.
Usage: python benchmarks/suite_durations.py [--log FILE] [--top N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(tests/[^:\s]+)")
WALL = re.compile(r" in ([\d.]+)s")


def per_file(output: str) -> tuple[Counter, float]:
    """({test file: seconds}, pytest's wall seconds) from pytest's output with ``--durations=0``."""
    seconds: Counter = Counter()
    for line in output.splitlines():
        match = LINE.match(line)
        if match:
            seconds[match[2]] += float(match[1])
    wall = WALL.search(output.strip().splitlines()[-1]) if output.strip() else None
    return seconds, (float(wall[1]) if wall else float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="the output of a pytest run with --durations=0")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    if args.log:
        output = args.log.read_text()
    else:
        output = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "auto", "--dist", "loadfile",
                                 "--durations=0", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                                text=True).stdout
    seconds, wall = per_file(output)
    if not seconds:
        sys.exit("no durations found: run pytest with --durations=0")
    total = sum(seconds.values())
    print(f"{'seconds':>8} {'share':>6}  test file")
    for name, value in seconds.most_common(args.top):
        print(f"{value:8.1f} {value / total:6.1%}  {name}")
    print(f"{total:8.1f} {1:6.0%}  all {len(seconds)} files (one worker's time, summed)")
    print(f"pytest wall time: {wall:.1f} s")


if __name__ == "__main__":
    main()
