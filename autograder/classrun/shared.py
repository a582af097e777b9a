"""Before a class run grades anyone: train each network a locked cell defines once, or take it from the store.

:func:`prepare` looks, for every assignment the run grades, for checks that compare with such a network
(:func:`autograder.scoring.shared_base.locked_baselines`); takes its figures from the class's store where they
were trained under the same grader version, rubric, profile, seed and data (a regrade trains nothing), else
trains it once in a grader process of its own and stores it; and returns the settings that hand the figures to
every student's scoring. Where the training fails, the run goes on with each scoring training its own, as
outside a class run: the grader's failure is never a student's grade.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from autograder import workers
from autograder.classrun import store
from autograder.grading import GradingSettings
from autograder.rubric import Limits, Rubric
from autograder.scoring import shared_base
from autograder.pipeline.score import _start_worker
from autograder.scoring.context import ScoringContext


def train_baseline(rubric: Rubric, profile: str, args: dict[str, Any], data_dir: Optional[str], seed: int,
                   limits: Limits) -> dict[str, Any]:
    """Train the locked baseline of one check as every student's scoring would, and evaluate it: its figures.
    Runs in a grader process of its own (no student's artifact is read: the network and recipe are the course's)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shared-base-") as empty:
        context = ScoringContext(Path(empty), None, profile, limits, data_dir, None, rubric.profiles[profile].epochs,
                                 seed, rubric)
        baseline, dataset, scale = args.get("baseline", "base"), args["dataset"], args.get("scale", 1.0)
        name = context.retrained(baseline, dataset, scale=scale, **args["retrain"])
        accuracy = context.accuracy(name, dataset, args.get("size"), scale,
                                    settle_batchnorm=bool(args.get("settle_batchnorm")))
        recipe = context.retraining_recipe(**args["retrain"]).describe()
    return {"baseline": baseline, "accuracy": accuracy, "recipe": recipe, "seed": seed,
            "train_s": round(time.perf_counter() - started, 1)}


def _train(rubric: Rubric, settings: GradingSettings, args: dict[str, Any]) -> dict[str, Any]:
    """Train the baseline in a new grader process (no network, dies with the grader)."""
    limits = settings.limits_for(rubric)
    executor = workers.pool(1, _start_worker)
    try:
        future = executor.submit(train_baseline, rubric, settings.profile, args, settings.data_dir,
                                 settings.seed, limits)
        return future.result(timeout=limits.scoring_timeout)
    finally:
        workers.kill(executor, join_seconds=10)


def prepare(out: Path, rubrics: Iterable[Rubric], settings: GradingSettings, say: Callable[[str], None]
            ) -> GradingSettings:
    """``settings`` carrying the figures of every shared baseline the run's ``rubrics`` need, trained now where
    the store under ``out`` has none for these inputs."""
    shared: dict[str, dict[str, dict[str, Any]]] = {}
    for rubric in rubrics:
        wanted = shared_base.locked_baselines(rubric, settings.profile)
        grader = store.assignment_version(rubric.name) if wanted else ""
        for check_id, args in wanted.items():
            key = shared_base.shared_key(grader, settings.profile, settings.seed, settings.data_dir, args)
            figures = store.load_shared(out, rubric.name, check_id, settings.seed, key)
            if figures is None:
                say(f"{rubric.id}: training the course's {args.get('baseline', 'base')} network once for the class "
                    f"(seed {settings.seed}); every student's {check_id} compares with it")
                try:
                    figures = _train(rubric, settings, args)
                except Exception as exc:  # the grader's failure: each scoring trains its own, as outside a class
                    say(f"{rubric.id}: the shared {args.get('baseline', 'base')} network could not be trained "
                        f"({type(exc).__name__}: {exc}); each student's scoring trains its own")
                    continue
                store.store_shared(out, rubric.name, check_id, settings.seed, key, figures)
            shared.setdefault(rubric.name, {})[shared_base.baseline_words(args)] = figures
    return dataclasses.replace(settings, shared=shared) if shared else settings
