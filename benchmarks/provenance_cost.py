"""What provenance costs per notebook: the grader retraining the saved architecture, against scoring the
saved weights as before, on the same artifacts in one run.

Grades each reference once (smoke profile, sandboxed), keeps its artifacts, then scores them alternately with
the rubric as it is (retraining) and with ``retrain`` taken out of its checks (the saved model scored, as the
grader did before), and prints the median scoring time of each, the notebook's own time, and the ratio of a
whole notebook's grading time with and without retraining (one untimed scoring first: imports and data);
then what confining the scoring process costs. The assignments whose smoke profile retrains are the default.
Usage: python benchmarks/provenance_cost.py [--assignment 00 03] [--repeat N]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import rubric as rubrics  # noqa: E402
from autograder.grading import GradingSettings  # noqa: E402
from autograder.pipeline.grade import grade_notebook  # noqa: E402
from autograder.pipeline.score import ScoringPool, score  # noqa: E402


def without_retraining(rubric: rubrics.Rubric) -> rubrics.Rubric:
    def plain(spec: rubrics.CheckSpec) -> rubrics.CheckSpec:
        return dataclasses.replace(
            spec, args={k: v for k, v in spec.args.items() if k != "retrain"},
            profile_args={p: {k: v for k, v in a.items() if k != "retrain"} for p, a in spec.profile_args.items()})

    return dataclasses.replace(rubric, checks=tuple(plain(s) for s in rubric.checks))


def retrained_checks(rubric: rubrics.Rubric) -> set[str]:
    """The checks whose smoke profile retrains (their accuracy is the grader's own training)."""
    return {spec.id for spec in rubric.checks if spec.args_for("smoke").get("retrain")}


def confinement_ms(repeat: int = 5) -> float:
    """Median milliseconds a fresh process takes to leave the network (the scoring worker's confinement; its
    memory cap is one setrlimit call per job)."""
    code = ("import time, sys; sys.path.insert(0, %r); from autograder import workers; t = time.perf_counter(); "
            "workers.without_network(); print((time.perf_counter() - t) * 1000)" % str(ROOT))
    import subprocess

    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", nargs="+", default=["00", "01", "03", "04", "06"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = GradingSettings(profile="smoke").resolved()
    print("assignment  notebook_s  score_saved_s  score_retrained_s  per_notebook_ratio")
    with ScoringPool() as pool, tempfile.TemporaryDirectory(prefix="provenance-bench-") as tmp:
        for ident in args.assignment:
            rubric = rubrics.find(ident)
            work, out = Path(tmp) / ident / "work", Path(tmp) / ident / "out"
            out.mkdir(parents=True)
            graded = grade_notebook(rubric, ROOT / "reference_solutions", out, work, pool, settings)
            artifacts, notebook = work / f"{rubric.name}-artifacts", work / rubric.name / rubric.notebook
            score(rubric, "smoke", artifacts, notebook, settings.data_dir, seed=settings.seed)  # warm: imports, data
            times: dict[str, list[float]] = {"saved": [], "retrained": []}
            for _ in range(args.repeat):
                for label, variant in (("saved", without_retraining(rubric)), ("retrained", rubric)):
                    start = time.perf_counter()
                    results = score(variant, "smoke", artifacts, notebook, settings.data_dir, seed=settings.seed)
                    times[label].append(time.perf_counter() - start)
                    for result in results:
                        if result.id in retrained_checks(rubric):
                            assert result.status == "pass", result.message
            saved, retrained = (statistics.median(times[k]) for k in ("saved", "retrained"))
            rest = sum(v for k, v in graded.timings.items() if k in ("stage_s", "execute_s", "export_s"))
            ratio = (rest + retrained) / (rest + saved)
            print(f"{ident:<10}  {rest:10.1f}  {saved:13.1f}  {retrained:17.1f}  {ratio:18.2f}")
    print(f"scoring process confinement (its own network namespace): {confinement_ms():.2f} ms per worker start")


if __name__ == "__main__":
    main()
