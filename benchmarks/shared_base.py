"""06's scoring with the base network trained once per class, against the base retrained in every scoring.

Grades the 06 reference once (smoke by default: staged, executed, scored) to get a notebook's artifacts, trains the
course's base network once as a class run does (:mod:`autograder.classrun.shared`), then scores those artifacts
``--rounds`` times each way in a fresh scoring process (ScoringPool), alternating: ``without`` (the base retrained
inside the scoring, as outside a class run) and ``with`` (the stored base's figure handed to the scoring). Prints
the medians, their ratio, and what a class of ``--students`` costs each way (the shared base counted once).
Usage: python benchmarks/shared_base.py [--profile smoke] [--rounds 2] [--students 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import rubric as rubrics  # noqa: E402
from autograder.classrun import shared  # noqa: E402
from autograder.grading import GradingSettings  # noqa: E402
from autograder.paths import REFERENCE_DIR  # noqa: E402
from autograder.pipeline.grade import grade_notebook  # noqa: E402
from autograder.pipeline.score import ScoringPool  # noqa: E402
from autograder.scoring.shared_base import baseline_words, locked_baselines  # noqa: E402


def timed_score(pool: ScoringPool, rubric: rubrics.Rubric, settings: GradingSettings, artifacts: Path,
                notebook: Path, figures: dict | None) -> tuple[float, str]:
    """Seconds to score the artifacts in a fresh process, and the beats_base message."""
    start = time.perf_counter()
    results = pool.score(rubric, settings.profile, artifacts, notebook, settings.data_dir, seed=settings.seed,
                         shared=figures)
    seconds = time.perf_counter() - start
    pool.notebook_done()
    return seconds, next(r.message for r in results if r.id == "beats_base")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--students", type=int, default=200)
    options = parser.parse_args()
    rubric = rubrics.find("06")
    settings = GradingSettings(options.profile, os.environ.get("CNN_COURSE_DATA"), sandbox="prefer")
    (check_id, args), = locked_baselines(rubric, options.profile).items()
    with tempfile.TemporaryDirectory(prefix="bench-shared-") as tmp, ScoringPool() as pool:
        tmp = Path(tmp)
        start = time.perf_counter()
        grade_notebook(rubric, REFERENCE_DIR, tmp / "out", tmp / "work", pool, settings)
        print(f"06 reference graded once ({options.profile}) for its artifacts: {time.perf_counter() - start:.1f} s")
        artifacts, notebook = tmp / "work" / f"{rubric.name}-artifacts", tmp / "work" / rubric.name / rubric.notebook
        start = time.perf_counter()
        trained = shared.prepare(tmp / "store", [rubric], settings, print).shared[rubric.name]
        base_s = time.perf_counter() - start
        figures = trained[baseline_words(args)]
        print(f"the base trained once for the class: {base_s:.1f} s (accuracy {figures['accuracy']:.4f})")
        runs: dict[str, list[float]] = {"without": [], "with": []}
        for round_ in range(options.rounds):
            for way in (("without", "with") if round_ % 2 == 0 else ("with", "without")):
                seconds, message = timed_score(pool, rubric, settings, artifacts, notebook,
                                               trained if way == "with" else None)
                runs[way].append(seconds)
                print(f"  round {round_ + 1}, {way:<7} the shared base: {seconds:6.1f} s  ({message[:90]}...)")
    without, with_ = statistics.median(runs["without"]), statistics.median(runs["with"])
    n = options.students
    print(f"\n06 scoring ({options.profile}, {os.cpu_count()} CPUs, median of {options.rounds}): without the shared "
          f"base {without:.1f} s, with it {with_:.1f} s: {without / with_:.2f}x")
    print(f"a class of {n}: {n * without / 3600:.2f} h of scoring without, {(base_s + n * with_) / 3600:.2f} h with "
          f"(the base once: {base_s:.0f} s): {n * without / (base_s + n * with_):.2f}x")


if __name__ == "__main__":
    main()
