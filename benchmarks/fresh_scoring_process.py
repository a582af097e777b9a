"""What a scoring process per notebook costs: a class's notebooks graded one after another with one scoring
process for them all (the grader before issue 29), and with a new one per notebook (ScoringPool today).

Grades the warm-up reference N times through ``grade_notebook`` (staged, executed in the sandbox, scored,
fingerprinted: what ``batch --jobs 1`` does per notebook) with each kind of pool in turn:

- ``reused``: one process scores every notebook (ScoringPool with its replacement turned off, here only);
- ``fresh``: ScoringPool as it is: after a notebook is scored and fingerprinted its process ends and the next one
  starts at once, importing Keras while the next notebook's kernel runs;
- ``cold``: a new process per notebook started only when the next notebook is scored (no head start): what the
  overlap with the kernel saves.

Prints each notebook's kernel time (execute_s), its scoring and fingerprinting time (score_s) and the whole
notebook, the medians of each pool, and their ratios to ``reused``. The pools take turns in blocks of N notebooks
(reused, fresh, cold, then cold, fresh, reused, ...: drift on a shared machine falls on each alike). Last, what a
new process's warm-up takes (spawned, confined, Keras imported): the work each notebook's process adds.
Usage: python benchmarks/fresh_scoring_process.py [--notebooks N] [--rounds R] [--assignment 00]
       [--pools reused fresh cold]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import rubric as rubrics  # noqa: E402
from autograder.grading import GradingSettings  # noqa: E402
from autograder.pipeline.grade import grade_notebook  # noqa: E402
from autograder.pipeline.score import ScoringPool  # noqa: E402


class ReusedProcess(ScoringPool):
    """The grader before issue 29, for comparison only: one process scores every notebook."""

    def _process_for(self, artifacts: Path, scoring: bool) -> Any:
        return self._pool()

    def notebook_done(self) -> None:
        pass


class ColdProcess(ScoringPool):
    """A process per notebook, started when that notebook is scored (nothing overlaps with its kernel)."""

    def notebook_done(self) -> None:
        pass


POOLS = {"reused": ReusedProcess, "fresh": ScoringPool, "cold": ColdProcess}


def graded(kind: str, notebooks: int, rubric: rubrics.Rubric, settings: GradingSettings, root: Path
           ) -> list[dict[str, float]]:
    """Each notebook's execute_s, score_s and whole time, graded one after another with a ``kind`` pool."""
    times = []
    root = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))
    with POOLS[kind]() as pool:
        pool.warm_up()  # as grade() and a class run's worker do, before the first kernel starts
        for index in range(notebooks):
            work, out = root / str(index) / "work", root / str(index) / "out"
            out.mkdir(parents=True)
            start = time.perf_counter()
            notebook = grade_notebook(rubric, ROOT / "reference_solutions", out, work, pool, settings)
            whole = time.perf_counter() - start
            failed = [(r.id, r.status, r.message) for r in notebook.results if r.status != "pass"]
            assert not failed, failed
            times.append({"execute_s": notebook.timings["execute_s"], "score_s": notebook.timings["score_s"],
                          "notebook_s": whole})
            print(f"{kind:<7} {index + 1:>8}  {times[-1]['execute_s']:9.1f}  {times[-1]['score_s']:7.1f}  "
                  f"{whole:10.1f}", flush=True)
    return times


def warm_up_seconds(repeat: int = 3) -> float:
    """Median seconds from starting a scoring process to Keras imported in it (nothing else running here)."""
    runs = []
    for _ in range(repeat):
        pool = ScoringPool()
        start = time.perf_counter()
        pool.warm_up()
        pool._warming.result()
        runs.append(time.perf_counter() - start)
        pool.close()
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notebooks", type=int, default=4, help="notebooks graded with each pool (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="blocks of N notebooks per pool (default 2)")
    parser.add_argument("--assignment", default="00")
    parser.add_argument("--pools", nargs="+", choices=list(POOLS), default=list(POOLS))
    args = parser.parse_args()
    rubric = rubrics.find(args.assignment)
    settings = GradingSettings(profile="smoke").resolved()
    print(f"{rubric.name}, smoke profile, sandbox {settings.sandbox}: {args.rounds} x {args.notebooks} notebooks "
          "per pool")
    print("pool    notebook  execute_s  score_s  notebook_s")
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in args.pools}
    with tempfile.TemporaryDirectory(prefix="fresh-scoring-bench-") as tmp:
        for turn in range(args.rounds):
            for kind in (args.pools if turn % 2 == 0 else args.pools[::-1]):
                results[kind] += graded(kind, args.notebooks, rubric, settings, Path(tmp))
    print("\nmedians   execute_s  score_s  notebook_s  score_ratio  notebook_ratio  (ratios: to reused)")
    base = results.get("reused")
    for kind, times in results.items():
        median = {key: statistics.median(t[key] for t in times) for key in ("execute_s", "score_s", "notebook_s")}
        ratios = ""
        if base:
            ratios = "  ".join(f"{median[key] / statistics.median(t[key] for t in base):{width}.2f}"
                               for key, width in (("score_s", 11), ("notebook_s", 14)))
        print(f"{kind:<7}  {median['execute_s']:10.1f}  {median['score_s']:7.1f}  {median['notebook_s']:10.1f}  "
              f"{ratios}")
    print(f"\na new scoring process's warm-up (start, confine, import Keras): {warm_up_seconds():.1f} s")


if __name__ == "__main__":
    main()
