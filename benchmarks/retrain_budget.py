"""What the grader's retrainings cost, against the course's budget (``retrain_work`` in limits.toml).

For every model a rubric retrains (its checks' ``retrain`` tables), per profile: the reference solution's
architecture, built by the reference notebook's own definitions (lifted from reference_solutions/ without
running its cells; the constants its cells set per profile, such as 01's image size and 05's input size,
evaluated for that profile), its multiply-adds per image (:mod:`autograder.modelspec.cost`), the images and
epochs the grader retrains it on (from the rubric, the profile and the training split's size), the work, the
budget in force for that assignment and the headroom (budget / work). Then the same for the attack of issue 29
(``UpSampling2D(64)`` at the input of a 1,500-parameter network) on every assignment's input, which must be
refused; then how long the check takes (describe the saved model, estimate, compare) per model and per notebook;
with ``--throughput``, the multiply-adds per second this machine trains at (06's base network), to read the budget
as seconds.
Usage: python benchmarks/retrain_budget.py [--profile smoke full] [--throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import rubric as rubrics  # noqa: E402
from autograder.errors import ArtifactError  # noqa: E402
from autograder.course.reference_models import DATA_SHAPES, reference_builders, retrainings  # noqa: E402
from autograder.modelspec import cost  # noqa: E402


def attack_network(input_shape: tuple[int, int, int], classes: int = 10) -> Any:
    """Issue 29's attack: ``UpSampling2D(64)`` at the input of a network of about 1,500 parameters."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(input_shape),
        layers.UpSampling2D(64),
        layers.Conv2D(24, 3, padding="same", activation="relu"),
        layers.Conv2D(24, 1, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(classes if classes > 2 else 1, activation="softmax" if classes > 2 else "sigmoid"),
    ], name="upsampling_attack")


def budget_of(rubric: rubrics.Rubric, profile: str) -> float:
    return rubric.profiles[profile].limits.retrain_work


def timed_ms(function: Callable[[], Any], repeat: int = 20) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def shape_text(description: Any) -> str:
    return "x".join(str(d) for d in description.input_shape)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", nargs="+", default=["smoke", "full"])
    parser.add_argument("--throughput", action="store_true",
                        help="also time a few training steps of 06's base network: multiply-adds per second here")
    options = parser.parse_args()

    import keras

    from autograder.modelspec import describe

    every = rubrics.all_rubrics()
    print(f"work = multiply-adds per image x images x epochs x {cost.BACKWARD_FACTOR} (forward and backward)\n")
    header = (f"{'as':<3} {'profile':<6} {'model':<19} {'input':<9} {'MACs/image':>10} {'images':>7} {'epochs':>6} "
              f"{'work':>8} {'budget':>8} {'headroom':>8}")
    print(header)
    print("-" * len(header))
    largest: dict[str, tuple[float, str, float]] = {}
    timings: dict[str, list[float]] = {}
    for profile in options.profile:
        for assignment, rubric in sorted(every.items()):
            retrained = retrainings(rubric, profile)
            if not retrained:
                print(f"{assignment:<3} {profile:<6} {'(no retraining)':<19}")
                continue
            builders = reference_builders(assignment, profile)
            budget = budget_of(rubric, profile)
            for job in retrained:
                keras.backend.clear_session()
                model = builders[job.model]()
                start = time.perf_counter()
                description = describe(model)
                work = cost.check_budget(description, job.images, job.epochs, budget, model=job.model,
                                         scope=f"{assignment} in {profile}")
                timings.setdefault(f"{assignment} {profile}", []).append((time.perf_counter() - start) * 1000)
                check_ms = timed_ms(lambda: cost.check_budget(description, job.images, job.epochs, budget))
                timings.setdefault("check only", []).append(check_ms)
                if work.total > largest.get(profile, (0.0, "", 0.0))[0]:
                    largest[profile] = (float(work.total), f"{assignment} {job.model}", budget)
                print(f"{assignment:<3} {profile:<6} {job.model:<19} {shape_text(description):<9} "
                      f"{cost.sci(work.per_image):>10} {job.images:>7,} {job.epochs:>6} {cost.sci(work.total):>8} "
                      f"{cost.sci(budget):>8} {budget / work.total:>7.0f}x")
    print()
    for profile, (work, which, budget) in largest.items():
        print(f"largest reference retraining in {profile}: {cost.sci(work)} ({which}), its budget {cost.sci(budget)}; "
              f"the profile's default (limits.toml): {cost.sci(rubrics.default_limits()[profile].retrain_work)}")

    if "full" in options.profile:  # an honest choice the notebook leaves open: 05's input size, up to ImageNet's
        keras.backend.clear_session()
        builders = reference_builders("05", "full", INPUT_SIZE=224)
        job = retrainings(every["05"], "full")[0]
        work = cost.training_work(describe(builders["fine_tuned"]()), job.images, job.epochs)
        print(f"05 full at INPUT_SIZE 224 (the notebook's choice; the reference takes 96): {cost.sci(work.total)}, "
              f"{budget_of(every['05'], 'full') / work.total:.1f}x under 05's budget")

    print("\nthe attack (UpSampling2D(64) at the input, about 1,500 parameters), on each assignment's input:")
    for profile in options.profile:
        for assignment, rubric in sorted(every.items()):
            for job in retrainings(rubric, profile)[:1]:
                keras.backend.clear_session()
                shape = DATA_SHAPES.get(job.dataset)  # dogs vs. cats: the reference's input
                if shape is None:
                    shape = describe(reference_builders(assignment, profile)[job.model]()).input_shape
                model = attack_network(tuple(shape), 2 if job.dataset == "cats_and_dogs" else 10)
                description = describe(model)
                try:
                    cost.check_budget(description, job.images, job.epochs, budget_of(rubric, profile),
                                      model="the attack", scope=f"{assignment} in {profile}")
                    verdict = "ACCEPTED"
                except ArtifactError:
                    verdict = "refused"
                work = cost.training_work(description, job.images, job.epochs)
                print(f"  {assignment} {profile:<6} {model.count_params():>6,} params  {cost.sci(work.per_image)} "
                      f"per image  work {cost.sci(work.total)}  budget {cost.sci(budget_of(rubric, profile))}  "
                      f"{work.total / budget_of(rubric, profile):.1f}x the budget: {verdict}")
    keras.backend.clear_session()
    attack = describe(attack_network((32, 32, 3)))
    try:
        cost.check_budget(attack, 4000, 3, budget_of(every["06"], "smoke"), model="model", scope="06 in smoke")
    except ArtifactError as refused:
        print(f"\n06 smoke, the message: {refused}")

    print("\nthe check's time (median of 20: estimate and compare, from a description):"
          f" {statistics.median(timings.pop('check only')):.2f} ms per model")
    print("describe the built model + check, per notebook (sum over its retrained models, first run):")
    for key, runs in timings.items():
        print(f"  {key:<9} {sum(runs):7.1f} ms ({len(runs)} model{'s' if len(runs) > 1 else ''})")

    if options.throughput:
        throughput(every)


def throughput(every: dict[str, rubrics.Rubric], steps: int = 6, batch: int = 128) -> None:
    """Multiply-adds per second of training 06's base network on this machine, and the budgets read as time."""
    import keras
    import numpy as np

    from autograder.modelspec import describe

    keras.backend.clear_session()
    model = reference_builders("06", "smoke")["base"]()
    per_image = cost.macs_per_image(describe(model))
    x = np.random.default_rng(0).random((batch * steps, 32, 32, 3), dtype="float32")
    y = np.arange(batch * steps) % 10
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)  # compile and warm up
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    rate = per_image * len(x) * cost.BACKWARD_FACTOR / seconds
    print(f"\ntraining 06's base network here ({os.cpu_count()} CPUs seen): {len(x)} images in {seconds:.1f} s, "
          f"{cost.sci(rate)} multiply-adds per second")
    for profile, limits in rubrics.default_limits().items():
        gpu = "; full runs on a GPU" if profile == "full" else ""
        print(f"  {profile}: the default budget {cost.sci(limits.retrain_work)} takes {limits.retrain_work / rate:,.0f} s "
              f"at that rate here (scoring_timeout {limits.scoring_timeout:.0f} s{gpu})")


if __name__ == "__main__":
    main()
